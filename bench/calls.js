// Benchmarks `memtrace calls`: run time of workloads traced (node --import memtrace/calls) against
// the untraced run, in the same run, processes interleaved round by round, medians. Also the
// probe shapes the design chose between, and the RSS publisher's CPU. Writes bench/results/calls.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const register = join(root, 'dist', 'tools', 'calls', 'register.js');
const workload = join(here, 'calls', 'workload.mjs');
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const tmp = mkdtempSync(join(tmpdir(), 'memtrace-bench-calls-'));
const include = ['**/node_modules/marked/**', '**/node_modules/yaml/**'];

const WORKLOADS = { fib: 30, json: 31, marked: 5, yaml: 5 };
const CONFIGS = {
  untraced: null,
  traced: {},
  lines: { lines: true },
  'probe:off': { probe: 'off' },
  'probe:enter': { probe: 'enter' },
  'probe:finally': { probe: 'finally' },
};

function runOnce(w, cfg) {
  const args = [];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  if (cfg) {
    args.push('--import', register);
    env.MEMTRACE_CALLS = JSON.stringify({ trigger: 4096, output: join(tmp, 'log.jsonl'), include, lines: !!cfg.lines, quiet: true });
    if (cfg.probe) env.MEMTRACE_CALLS_PROBE = cfg.probe;
  }
  const out = execFileSync(process.execPath, [...args, workload, w, String(WORKLOADS[w])], { env, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const samples = {};
const hashes = {};
for (let r = 0; r < rounds; r++) {
  for (const w of Object.keys(WORKLOADS)) {
    for (const [name, cfg] of Object.entries(CONFIGS)) {
      const res = runOnce(w, cfg);
      ((samples[w] ??= {})[name] ??= { ms: [], maxRss: [] });
      samples[w][name].ms.push(res.ms);
      samples[w][name].maxRss.push(res.maxRss);
      (hashes[w] ??= new Set()).add(res.hash);
    }
  }
  process.stderr.write(`round ${r + 1}/${rounds}\n`);
}
for (const w of Object.keys(hashes)) {
  if (hashes[w].size !== 1) throw new Error(`${w}: traced and untraced results differ`);
}

const figures = { rounds, workloads: {}, probes: null, publisherCpuPercent: null };
for (const w of Object.keys(WORKLOADS)) {
  const base = med(samples[w].untraced.ms);
  const baseRss = med(samples[w].untraced.maxRss);
  figures.workloads[w] = {};
  for (const name of Object.keys(CONFIGS)) {
    const s = samples[w][name];
    figures.workloads[w][name] = {
      medianMs: +med(s.ms).toFixed(3),
      ratio: +(med(s.ms) / base).toFixed(3),
      maxRssMiB: +(med(s.maxRss) / 1048576).toFixed(1),
      extraRssMiB: +((med(s.maxRss) - baseRss) / 1048576).toFixed(1),
      allMs: s.ms.map((x) => +x.toFixed(3)),
    };
  }
}

// Probe shapes, hand-written, in one process (medians of 41 interleaved runs), three times.
const probeRuns = [0, 1, 2].map(() => JSON.parse(execFileSync(process.execPath, [join(here, 'calls', 'probes.mjs')], { encoding: 'utf8' })));
figures.probes = Object.fromEntries(Object.keys(probeRuns[0]).map((k) => [k, +med(probeRuns.map((p) => p[k])).toFixed(2)]));

// The publisher thread's CPU while a trace is on and the program sleeps.
const idle = (traced) => JSON.parse(execFileSync(process.execPath, [...(traced ? ['--import', register] : []), join(here, 'calls', 'idle.mjs')], {
  env: { ...process.env, MEMTRACE_CALLS: JSON.stringify({ output: join(tmp, 'idle.jsonl'), quiet: true }) }, encoding: 'utf8' }).trim().split('\n').pop()).cpuPercent;
const idleRuns = [0, 1, 2].map(() => [idle(false), idle(true)]);
figures.publisherCpuPercent = +(med(idleRuns.map((x) => x[1])) - med(idleRuns.map((x) => x[0]))).toFixed(2);
rmSync(tmp, { recursive: true, force: true });

const W = figures.workloads;
const x = (v) => `x${v.toFixed(2)}`;
const row = {
  tool: '`calls`',
  memoryGranularity: 'RSS in pages at each call, return and throw (and statement with --lines) where it moved ≥ the trigger (default 4 KiB) since the last event (a plain function's throw: its own event with --trigger 0, else charged to the next event); V8 heap used beside it',
  executionGranularity: 'every JS/TS function of the included files; with --lines every statement',
  memoryCost: `+${W.fib.traced.extraRssMiB} MiB peak RSS on fib, +${W.marked.traced.extraRssMiB} MiB on marked (publisher thread, parser, instrumented code); publisher ${figures.publisherCpuPercent}% of a core`,
  executionCost: `${x(W.fib.traced.ratio)} on fib(27), ${x(W.json.traced.ratio)} on a JSON transform, ${x(W.marked.traced.ratio)} on marked, ${x(W.yaml.traced.ratio)} on yaml (libraries traced as user code); --lines ${x(W.fib.lines.ratio)} / ${x(W.json.lines.ratio)} / ${x(W.marked.lines.ratio)} / ${x(W.yaml.lines.ratio)}`,
};
const result = { tool: 'calls', node: process.version, date: new Date().toISOString(), rows: [row], figures };
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'calls.json'), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify({ row, ratios: Object.fromEntries(Object.entries(W).map(([w, c]) => [w, Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.ratio]))])), probes: figures.probes, publisherCpuPercent: figures.publisherCpuPercent }, null, 1));
