// Benchmarks the heap-snapshot engine (src/snapshot/) against memlab on the same snapshot in
// the same run: parse speed (MB/s), time to dominators + retained sizes, and peak memory of
// the analysis as a multiple of the snapshot file. Each reading runs in a fresh process,
// interleaved (ours, memlab, JSON.parse, ours, …); medians with min-max. Writes
// bench/results/snapshot.json.
//
//   BENCH_SNAPSHOT_MB=60   JS heap of the snapshot's program, MB (default 60: ~100 MB file)
//   BENCH_REPS=3           readings of each kind
//   MEMLAB_DIR=dir         a directory where @memlab/core is installed (else installed into a
//                          temporary directory with npm; BENCH_MEMLAB=0 skips memlab)
//   BENCH_SNAPSHOT=file    read this snapshot instead of writing one
//   BENCH_JSON=0           leave out JSON.parse of the file (for orientation only)
//   BENCH_BIG=1            one reading of ours only (a snapshot past 512 MB: expensive to
//                          write, run it once by hand); results go to snapshot-big.json
// Results: snapshot.json (default size), snapshot-<MB>mb.json (BENCH_SNAPSHOT_MB given).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, root, writeResults } from './lib.js';

const MB = 1e6;
const heapMB = Number(process.env.BENCH_SNAPSHOT_MB ?? 60);
const reps = Number(process.env.BENCH_REPS ?? 3);
const big = process.env.BENCH_BIG === '1';
const tmp = mkdtempSync(join(tmpdir(), 'memtrace-snapshot-bench-'));
const node = process.execPath;

function runJson(argv, env = process.env) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', cwd: root, env, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

// 1. The snapshot: a program of heapMB megabytes of varied objects writes it.
let file = process.env.BENCH_SNAPSHOT;
let written = null;
if (!file) {
  file = join(tmp, `heap-${heapMB}mb.heapsnapshot`);
  const oldSpace = Math.max(4096, heapMB * 4);
  written = runJson([node, `--max-old-space-size=${oldSpace}`, join(root, 'bench/workloads/snapshot-heap.js'), String(heapMB), file]);
  console.log(`snapshot: ${(written.file / MB).toFixed(0)} MB from a ${(written.heapUsed / MB).toFixed(0)} MB heap, written by V8 in ${(written.writeMs / 1000).toFixed(1)} s`);
}
const fileBytes = statSync(file).size;

// 2. memlab, installed for this run only (not a dependency of memtrace).
let memlabDir = process.env.MEMLAB_DIR;
if (!big && process.env.BENCH_MEMLAB !== '0' && !memlabDir) {
  memlabDir = join(tmp, 'memlab');
  console.log('installing @memlab/core into a temporary directory…');
  const r = spawnSync('npm', ['install', '--prefix', memlabDir, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '@memlab/core@2'],
    { encoding: 'utf8', env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' } });
  if (r.status !== 0) { console.log(`memlab not installed (${r.stderr.trim().split('\n').pop()}): comparing without it`); memlabDir = undefined; }
}
const memlabVersion = memlabDir && existsSync(join(memlabDir, 'node_modules/@memlab/core/package.json'))
  ? runJson([node, '-e', `console.log(JSON.stringify(require(${JSON.stringify(join(memlabDir, 'node_modules/@memlab/core/package.json'))}).version))`])
  : null;

// An empty node process's peak RSS: what every reader pays before reading anything.
const baseRss = median([0, 1, 2].map(() => runJson([node, '-e', 'console.log(process.resourceUsage().maxRSS * 1024)'])));

const bigHeap = ['--max-old-space-size=16384'];
const kinds = {
  memtrace: () => runJson([node, ...bigHeap, join(root, 'bench/workloads/snapshot-read.js'), file]),
};
if (!big) kinds['memtrace parse only'] = () => runJson([node, ...bigHeap, join(root, 'bench/workloads/snapshot-read.js'), file, 'parse']);
if (memlabDir) kinds.memlab = () => runJson([node, ...bigHeap, join(root, 'bench/workloads/snapshot-memlab.cjs'), file], { ...process.env, MEMLAB_DIR: memlabDir });
if (!big && fileBytes < 500 * MB && process.env.BENCH_JSON !== '0') {
  kinds['JSON.parse'] = () => runJson([node, ...bigHeap, '-e', `
    const t0 = performance.now(); const s = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
    console.log(JSON.stringify({ parseMs: performance.now() - t0, totalMs: performance.now() - t0, maxRssBytes: process.resourceUsage().maxRSS * 1024, nodes: s.nodes.length }));`, file]);
}

const runs = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
for (let i = 0; i < (big ? 1 : reps); i++) {
  for (const [k, f] of Object.entries(kinds)) {
    const r = f();
    runs[k].push(r);
    console.log(`  ${k}: ${(r.totalMs / 1000).toFixed(2)} s, peak RSS ${(r.maxRssBytes / MB).toFixed(0)} MB`);
  }
}

const stat = (xs) => ({ median: Math.round(median(xs)), min: Math.round(Math.min(...xs)), max: Math.round(Math.max(...xs)) });
const summary = {};
for (const [k, rs] of Object.entries(runs)) {
  const rss = median(rs.map((r) => r.maxRssBytes));
  summary[k] = {
    parseMs: stat(rs.map((r) => r.parseMs)),
    ...(rs[0].domMs !== undefined ? { dominatorsMs: stat(rs.map((r) => r.domMs)) } : {}),
    totalMs: stat(rs.map((r) => r.totalMs)),
    ...(rs[0].cpuMs !== undefined ? { cpuMs: stat(rs.map((r) => r.cpuMs)) } : {}),
    parseMBps: Math.round(fileBytes / MB / (median(rs.map((r) => r.parseMs)) / 1000)),
    peakRssMB: Math.round(rss / MB),
    // The analysis' own memory: peak RSS above an empty node process, per byte of snapshot.
    memoryPerFileByte: Math.round(((rss - baseRss) / fileBytes) * 100) / 100,
    rootRetained: rs[0].rootRetained,
  };
}
const ours = summary.memtrace, theirs = summary.memlab;
const figures = {
  file: file === process.env.BENCH_SNAPSHOT ? file : undefined,
  snapshotMB: Math.round(fileBytes / MB), heapMB: written ? Math.round(written.heapUsed / MB) : undefined,
  v8WriteMs: written ? Math.round(written.writeMs) : undefined,
  nodes: runs.memtrace[0].nodes, edges: runs.memtrace[0].edges,
  baseRssMB: Math.round(baseRss / MB), repetitions: big ? 1 : reps, memlab: memlabVersion,
  summary,
  ...(theirs ? {
    speedupTotal: Math.round((theirs.totalMs.median / ours.totalMs.median) * 10) / 10,
    speedupCpu: theirs.cpuMs && ours.cpuMs ? Math.round((theirs.cpuMs.median / ours.cpuMs.median) * 10) / 10 : undefined,
    // Both compute DevTools' retained sizes: the root's must be the same number.
    rootRetainedAgrees: theirs.rootRetained === ours.rootRetained,
  } : {}),
  runs,
};
console.log(`\nsnapshot ${figures.snapshotMB} MB, ${figures.nodes} nodes, ${figures.edges} edges`);
for (const [k, s] of Object.entries(summary)) {
  console.log(`  ${k.padEnd(20)} total ${(s.totalMs.median / 1000).toFixed(2)} s (${(s.totalMs.min / 1000).toFixed(2)}-${(s.totalMs.max / 1000).toFixed(2)})` +
    `${s.dominatorsMs ? `, dominators ${(s.dominatorsMs.median / 1000).toFixed(2)} s` : ''}, parse ${s.parseMBps} MB/s, peak RSS ${s.peakRssMB} MB = ${s.memoryPerFileByte}x the file above an empty node`);
}
if (theirs) console.log(`  memlab / memtrace: x${figures.speedupTotal} wall, x${figures.speedupCpu} CPU; root retained sizes agree: ${figures.rootRetainedAgrees}`);
writeResults(big ? 'snapshot-big' : process.env.BENCH_SNAPSHOT_MB ? `snapshot-${heapMB}mb` : 'snapshot', [], figures);
rmSync(tmp, { recursive: true, force: true });
