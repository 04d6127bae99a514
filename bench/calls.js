// Benchmarks `memtrace calls` against the untraced run of the same workloads, measured in the same
// run, processes interleaved round by round; medians with the min-max spread of the rounds.
// - hot loop: the workload's own timing inside the process (the median of its repetitions),
//   untraced, traced, --native, --lines (node --import memtrace/calls);
// - memory: the process's peak RSS traced minus untraced (the RSS the tool adds to the program);
// - whole command: wall time of `memtrace calls -- node workload` (start-up, instrumenting at
//   load, reading the log back, the summary) against `node workload`, warm cache and cold;
// - the publisher thread's CPU while the program sleeps.
// Writes bench/results/calls.json. BENCH_ROUNDS=5 by default.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, median, timeCommand, writeResults, x } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));
const register = join(here, '..', 'dist', 'runtime', 'calls-register.js');
const workload = join(here, 'calls', 'workload.mjs');
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const tmp = mkdtempSync(join(tmpdir(), 'memtrace-bench-calls-'));
const cache = join(tmp, 'cache');
const include = ['**/node_modules/marked/**', '**/node_modules/yaml/**'];

/** Workload and its in-process repetitions. */
const WORKLOADS = { fib: 30, json: 31, marked: 3, yaml: 3 };
const CONFIGS = { untraced: null, traced: {}, native: { native: true }, lines: { lines: true } };

function env(cfg, cacheDir = cache) {
  const e = { ...process.env, MEMTRACE_CACHE_DIR: cacheDir };
  delete e.NODE_OPTIONS;
  if (cfg) e.MEMTRACE_CALLS = JSON.stringify({ trigger: 4096, output: join(tmp, 'log.jsonl'), include, lines: !!cfg.lines, native: !!cfg.native, quiet: true });
  return e;
}

function inProcess(w, cfg) {
  const args = cfg ? ['--import', register] : [];
  const out = execFileSync(process.execPath, [...args, workload, w, String(WORKLOADS[w])], { env: env(cfg), encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

// Whole command, one repetition of the workload: what a user waits for.
const wall = {
  untraced: (w) => timeCommand([process.execPath, workload, w, '1'], { env: env(null) }),
  command: (w) => timeCommand([process.execPath, cli, 'calls', '--include', include[0], '--include', include[1], '-o', join(tmp, 'cmd.jsonl'), '--', process.execPath, workload, w, '1'], { env: env(null) }),
  'command, cold cache': (w) => {
    const cold = join(tmp, `cold-${Math.random().toString(36).slice(2)}`);
    try { return timeCommand([process.execPath, cli, 'calls', '--include', include[0], '--include', include[1], '-o', join(tmp, 'cmd.jsonl'), '--', process.execPath, workload, w, '1'], { env: env(null, cold) }); } finally { rmSync(cold, { recursive: true, force: true }); }
  },
};

// One warm-up run per configuration fills the cache (the cold case is measured apart).
for (const w of Object.keys(WORKLOADS)) for (const cfg of Object.values(CONFIGS)) inProcess(w, cfg);

const samples = {};
const hashes = {};
for (let r = 0; r < rounds; r++) {
  for (const w of Object.keys(WORKLOADS)) {
    const s = (samples[w] ??= {});
    for (const [name, cfg] of Object.entries(CONFIGS)) {
      const res = inProcess(w, cfg);
      (s[name] ??= { ms: [], maxRss: [] }).ms.push(res.ms);
      s[name].maxRss.push(res.maxRss);
      (hashes[w] ??= new Set()).add(res.hash);
    }
    for (const [name, run] of Object.entries(wall)) ((s.wall ??= {})[name] ??= []).push(run(w));
  }
  process.stderr.write(`round ${r + 1}/${rounds}\n`);
}
for (const w of Object.keys(hashes)) if (hashes[w].size !== 1) throw new Error(`${w}: traced and untraced results differ`);

const MiB = 1048576;
const round1 = (v) => Math.round(v * 10) / 10;
/** Median and min-max of per-round values. */
const spread = (xs, f = (v) => v) => ({ median: f(median(xs)), min: f(Math.min(...xs)), max: f(Math.max(...xs)) });
const figures = { rounds, workloads: {}, publisherCpuPercent: null };
for (const w of Object.keys(WORKLOADS)) {
  const s = samples[w];
  const fig = (figures.workloads[w] = {});
  for (const name of Object.keys(CONFIGS)) {
    // Ratios and RSS differences per round (same round, interleaved), then their spread.
    const ratio = s[name].ms.map((ms, i) => ms / s.untraced.ms[i]);
    const extra = s[name].maxRss.map((b, i) => (b - s.untraced.maxRss[i]) / MiB);
    fig[name] = {
      medianMs: +median(s[name].ms).toFixed(3),
      ratio: spread(ratio, (v) => +v.toFixed(3)),
      peakRssMiB: +(median(s[name].maxRss) / MiB).toFixed(1),
      extraRssMiB: spread(extra, round1),
    };
  }
  fig.wall = {};
  for (const name of Object.keys(wall)) {
    const extraMs = s.wall[name].map((ms, i) => ms - s.wall.untraced[i]);
    fig.wall[name] = { medianMs: Math.round(median(s.wall[name])), extraMs: spread(extraMs, Math.round) };
  }
}

// The publisher thread's CPU while a trace is on and the program sleeps.
const idle = (traced) => JSON.parse(execFileSync(process.execPath, [...(traced ? ['--import', register] : []), join(here, 'calls', 'idle.mjs')], {
  env: { ...env(traced ? {} : null), MEMTRACE_CALLS: JSON.stringify({ output: join(tmp, 'idle.jsonl'), quiet: true }) }, encoding: 'utf8' }).trim().split('\n').pop()).cpuPercent;
const idleRuns = [0, 1, 2].map(() => [idle(false), idle(true)]);
figures.publisherCpuPercent = +(median(idleRuns.map((v) => v[1])) - median(idleRuns.map((v) => v[0]))).toFixed(2);
// The same fib as a CommonJS program (most of npm), traced by `memtrace calls` itself (its
// --require preload): the bench's ES-module workloads import node:fs themselves, which loads
// node's stream stack on both sides; a CommonJS program that does not gets it from nobody else.
const cjsArgs = [join(here, 'calls', 'fib.cjs'), '30'];
const cjsRss = (traced) => JSON.parse(execFileSync(process.execPath, traced ? [cli, 'calls', '-o', join(tmp, 'cjs.jsonl'), '--', process.execPath, ...cjsArgs] : cjsArgs, { env: env(null), encoding: 'utf8' }).trim().split('\n').pop()).maxRss;
cjsRss(true); // fills the cache
const cjsExtra = [];
for (let r = 0; r < rounds; r++) { const u = cjsRss(false); cjsExtra.push((cjsRss(true) - u) / MiB); }
figures.commonjsFibExtraRssMiB = spread(cjsExtra, round1);
rmSync(tmp, { recursive: true, force: true });

const W = figures.workloads;
const xr = (r) => `${x(r.median)} (${x(r.min)}-${x(r.max)})`;
const mib = (e) => `${e.median >= 0 ? '+' : ''}${e.median} MiB (${e.min} to ${e.max})`;
const ms = (e) => `+${e.median} ms (${e.min} to ${e.max})`;
const names = { fib: 'fib(27)', json: 'a JSON transform', marked: 'marked', yaml: 'yaml' };
const row = {
  tool: '`calls`',
  memoryGranularity: 'RSS in pages at each call, return and throw (and statement with --lines) where it moved ≥ the trigger (default 4 KiB) since the last event (a throw: its own event with --trigger 0, else charged to the next event); with --native also each call into code not instrumented (built-ins, node\'s API, addons); V8 heap used beside it',
  executionGranularity: 'every JS/TS function of the included files but leaves (functions that only read and compute: they cannot move memory); with --native every call out of them; with --lines every statement',
  memoryCost: `peak RSS traced minus untraced: ${Object.keys(W).map((w) => `${mib(W[w].traced.extraRssMiB)} on ${names[w]}`).join(', ')}, ${mib(figures.commonjsFibExtraRssMiB)} on fib(27) as a CommonJS program (${process.version}); publisher thread ${figures.publisherCpuPercent}% of a core`,
  executionCost: `${Object.keys(W).map((w) => `${xr(W[w].traced.ratio)} on ${names[w]}`).join(', ')} (libraries traced as user code); --native ${Object.keys(W).map((w) => x(W[w].native.ratio.median)).join(' / ')}; --lines ${Object.keys(W).map((w) => x(W[w].lines.ratio.median)).join(' / ')}; whole command ${Object.keys(W).map((w) => ms(W[w].wall.command.extraMs)).join(' / ')} wall (cold cache ${Object.keys(W).map((w) => `+${W[w].wall['command, cold cache'].extraMs.median}`).join(' / ')} ms)`,
};
writeResults('calls', [row], figures);
console.log(JSON.stringify(row, null, 1));
