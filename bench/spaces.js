// Benchmark of the spaces tool: µs per snapshot, the cost of diffSpaces around a block against the
// bare block, and the cost of `memtrace spaces` (with and without --interval) on a program against
// the untraced run. Repetitions are interleaved; figures are medians. Writes bench/results/spaces.json.
import { median } from './lib.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { diffSpaces, snapshotSpaces } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'dist', 'cli.js');
const now = () => performance.now();
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

// 1. µs per call of each primitive and of a snapshot.
function perCall(fn, n) {
  const t0 = now();
  for (let i = 0; i < n; i++) fn();
  return ((now() - t0) * 1000) / n;
}
const prims = {
  getHeapSpaceStatistics: () => v8.getHeapSpaceStatistics(),
  getHeapStatistics: () => v8.getHeapStatistics(),
  memoryUsage: () => process.memoryUsage(),
  snapshot: () => snapshotSpaces(),
  snapshotWithCode: () => snapshotSpaces({ code: true }),
};
const perCallUs = Object.fromEntries(Object.keys(prims).map((k) => [k, []]));
for (let rep = 0; rep < 9; rep++) {
  for (const [k, fn] of Object.entries(prims)) perCallUs[k].push(perCall(fn, k === 'snapshotWithCode' ? 200 : 20000));
}
const us = Object.fromEntries(Object.entries(perCallUs).map(([k, v]) => [k, median(v)]));
const heapAtCodeBench = v8.getHeapStatistics().used_heap_size;

// Memory held by one snapshot.
gc();
const h0 = process.memoryUsage().heapUsed;
const held = [];
for (let i = 0; i < 10000; i++) held.push(snapshotSpaces());
gc();
const bytesPerSnapshot = (process.memoryUsage().heapUsed - h0) / held.length;
held.length = 0;

// 2. diffSpaces around a block vs the bare block.
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
let sink;
const blocks = {
  'fib(25)': () => fib(25),
  '10k objects': () => { const a = []; for (let i = 0; i < 10000; i++) a.push({ i, s: 'x' + i }); sink = a; return a.length; },
};
const block = {};
for (const [name, fn] of Object.entries(blocks)) {
  const bare = [], wrapped = [], wrappedCode = [];
  for (let i = 0; i < 20; i++) fn(); // warm up
  for (let rep = 0; rep < 41; rep++) {
    let t = now(); fn(); bare.push(now() - t);
    t = now(); diffSpaces(fn); wrapped.push(now() - t);
    t = now(); diffSpaces(fn, { code: true }); wrappedCode.push(now() - t);
  }
  block[name] = { bareMs: median(bare), diffMs: median(wrapped), diffWithCodeMs: median(wrappedCode) };
  block[name].ratio = block[name].diffMs / block[name].bareMs;
  block[name].ratioWithCode = block[name].diffWithCodeMs / block[name].bareMs;
}

// 3. The CLI on a program: wall time of the program's own work, and its peak RSS.
const dir = mkdtempSync(join(tmpdir(), 'memtrace-bench-spaces-'));
const prog = join(dir, 'work.js');
writeFileSync(prog, `
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
const t0 = performance.now();
let keep = [];
for (let r = 0; r < 40; r++) { fib(28); for (let i = 0; i < 100000; i++) keep.push({ i }); if (keep.length > 300000) keep = []; }
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, maxRss: process.resourceUsage().maxRSS * 1024 }));
`);
const variants = {
  bare: [process.execPath, prog],
  spaces: [process.execPath, cli, 'spaces', '-q', '-o', join(dir, 'a.jsonl'), '--', process.execPath, prog],
  'spaces --interval 100ms': [process.execPath, cli, 'spaces', '-q', '--interval', '100ms', '-o', join(dir, 'b.jsonl'), '--', process.execPath, prog],
  'spaces --interval 10ms': [process.execPath, cli, 'spaces', '-q', '--interval', '10ms', '-o', join(dir, 'c.jsonl'), '--', process.execPath, prog],
};
// Memory: a quiet program (no garbage to make peak RSS noisy) reports its RSS after 300 ms.
const idle = join(dir, 'idle.js');
writeFileSync(idle, `setTimeout(() => console.log(JSON.stringify({ ms: 0, maxRss: process.memoryUsage().rss })), 300);`);
const idleRss = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let rep = 0; rep < 5; rep++) {
  for (const [k, [cmd, ...args]] of Object.entries(variants)) {
    const r = spawnSync(cmd, args.map((a) => (a === prog ? idle : a)), { encoding: 'utf8' });
    idleRss[k].push(JSON.parse(r.stdout.trim().split('\n').at(-1)).maxRss);
  }
}
const runs = Object.fromEntries(Object.keys(variants).map((k) => [k, { ms: [], wall: [], maxRss: [] }]));
for (let rep = 0; rep < 13; rep++) {
  for (const [k, [cmd, ...args]] of Object.entries(variants)) {
    const t = now();
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    const wall = now() - t;
    if (r.status !== 0) throw new Error(`${k} failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
    runs[k].ms.push(out.ms); runs[k].wall.push(wall); runs[k].maxRss.push(out.maxRss);
  }
}
const cliFig = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, { workMs: median(v.ms), wallMs: median(v.wall), maxRss: median(v.maxRss) }]));
for (const k of Object.keys(cliFig)) {
  cliFig[k].workRatio = cliFig[k].workMs / cliFig.bare.workMs;
  cliFig[k].addedWallMs = cliFig[k].wallMs - cliFig.bare.wallMs;
  cliFig[k].addedRssMiB = (cliFig[k].maxRss - cliFig.bare.maxRss) / 1048576;
  cliFig[k].idleRss = median(idleRss[k]);
  cliFig[k].addedIdleRssMiB = (median(idleRss[k]) - median(idleRss.bare)) / 1048576;
}

const x = (r) => `x${r.toFixed(2)}`;
const f1 = (v) => v.toFixed(1);
const row = {
  tool: 'spaces',
  memoryGranularity: 'V8 heap spaces (used, committed, available, physical per space), heap statistics, process.memoryUsage()',
  executionGranularity: 'either side of a block (or at intervals, also while busy in sync code)',
  memoryCost: `${Math.round(bytesPerSnapshot)} B per snapshot kept; CLI +${f1(cliFig.spaces.addedIdleRssMiB)} MiB RSS in the program, +${f1(cliFig['spaces --interval 100ms'].addedIdleRssMiB)} MiB with --interval (a worker thread)`,
  executionCost: `${f1(us.snapshot)} µs per snapshot (${f1(us.snapshotWithCode)} µs with code sizes); diffSpaces ${x(block['fib(25)'].ratio)} on fib(25), ${x(block['10k objects'].ratio)} on 10k objects (x${block['fib(25)'].ratioWithCode.toFixed(1)} on fib(25) with code: true); CLI ${x(cliFig.spaces.workRatio)} on fib(28) + 2M objects, ${x(cliFig['spaces --interval 100ms'].workRatio)} at --interval 100ms, ${x(cliFig['spaces --interval 10ms'].workRatio)} at 10ms`,
};
const result = {
  tool: 'spaces',
  node: process.version,
  date: new Date().toISOString(),
  rows: [row],
  figures: { perCallUs: us, heapUsedDuringCodeBench: heapAtCodeBench, bytesPerSnapshot, block, cli: cliFig, note: 'medians of interleaved repetitions on a shared 2-core machine (other builds running): expect ±10% noise' },
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'spaces.json'), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
