// bench/leaks: what learning allocation sites costs a program while its iterations are
// measured (V8 allocation tracking, the leaks tool's choice, against the sampling heap
// profiler), what a full snapshot costs (write time, file size per MiB of heap), and what its
// analysis costs against memlab on the same snapshot in the same run (bench/snapshot.js, run
// from here: parse MB/s, parse + dominators, peak memory per byte of file; BENCH_SNAPSHOT_MB and
// the other variables it reads apply). Separate processes, interleaved rounds, medians with
// min-max. Writes bench/results/leaks.json (and snapshot.json).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, root, writeResults } from './lib.js';

const modes = ['none', 'tracking', 'sampling32k', 'sampling4k'];
const rounds = Number(process.env.ROUNDS ?? 5);
const times = Object.fromEntries(modes.map((m) => [m, []]));
for (let r = 0; r < rounds; r++) {
  for (const m of modes) {
    const p = spawnSync(process.execPath, [join(root, 'bench', 'workloads', 'leaks-iterations.mjs'), m], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(p.stderr);
    times[m].push(JSON.parse(p.stdout).ms);
  }
}
const base = median(times.none);
const iterations = Object.fromEntries(modes.map((m) => [m, {
  medianMs: Math.round(median(times[m])), ratio: Math.round((median(times[m]) / base) * 100) / 100,
  minMs: Math.round(Math.min(...times[m])), maxMs: Math.round(Math.max(...times[m])),
}]));

// A snapshot of a heap of about 50 MiB: time to write and bytes per MiB of used heap.
const dir = mkdtempSync(join(tmpdir(), 'memtrace-bench-leaks-'));
const snap = spawnSync(process.execPath, ['-e', `
  const v8 = require('v8'); const keep = []; for (let i = 0; i < 400000; i++) keep.push({ i, s: 'x' + i });
  const used = v8.getHeapStatistics().used_heap_size; const t0 = performance.now();
  v8.writeHeapSnapshot(${JSON.stringify(join(dir, 's.heapsnapshot'))});
  console.log(JSON.stringify({ used, ms: performance.now() - t0 }));`], { encoding: 'utf8' });
const s = JSON.parse(snap.stdout);
const bytes = statSync(join(dir, 's.heapsnapshot')).size;
rmSync(dir, { recursive: true, force: true });
// The analysis, against memlab: bench/snapshot.js in a process of its own (it writes its results).
const engineRun = spawnSync(process.execPath, [join(root, 'bench', 'snapshot.js')], { stdio: 'inherit', cwd: root });
if (engineRun.status !== 0) throw new Error('bench/snapshot.js failed');
const snapshotFile = process.env.BENCH_SNAPSHOT_MB ? `snapshot-${process.env.BENCH_SNAPSHOT_MB}mb.json` : 'snapshot.json';
const engine = JSON.parse(readFileSync(join(root, 'bench', 'results', snapshotFile), 'utf8')).figures;
const ours = engine.summary.memtrace, memlab = engine.summary.memlab;
const analysis = {
  snapshotMB: engine.snapshotMB, parseMBps: ours.parseMBps, totalMs: ours.totalMs, cpuMs: ours.cpuMs,
  memoryPerFileByte: ours.memoryPerFileByte, memlab: engine.memlab,
  memlabTotalMs: memlab?.totalMs, memlabMemoryPerFileByte: memlab?.memoryPerFileByte,
  speedupTotal: engine.speedupTotal, speedupCpu: engine.speedupCpu, rootRetainedAgrees: engine.rootRetainedAgrees,
};
const sec = (ms) => `${(ms / 1000).toFixed(1)} s`;
const versus = memlab ? `; memlab ${engine.memlab}: ${sec(memlab.totalMs.median)} (x${engine.speedupTotal} wall, x${engine.speedupCpu} CPU)` : '';

const results = {
  node: process.version, rounds, iterations, analysis,
  snapshot: { heapUsedMiB: Math.round(s.used / 1048576), writeMs: Math.round(s.ms), fileMiB: Math.round(bytes / 1048576), fileBytesPerHeapByte: Math.round((bytes / s.used) * 100) / 100 },
};
console.log(JSON.stringify(results, null, 2));
const x = (r) => `x${r.toFixed(2)}`;
writeResults('leaks', [{
  tool: 'leaks',
  memoryGranularity: 'objects born after the baseline by class (main allocation site: the allocating function\'s file:line, through source maps), collections by entries, strings, closures, native backing stores with their owner; holder and retainer path',
  executionGranularity: 'per iteration: the program\'s marks, HTTP bursts, a period, a scenario or a library callback; a full GC and a heap snapshot at each boundary (3-4 on heaps over 64 MiB)',
  memoryCost: `a snapshot file is ${results.snapshot.fileBytesPerHeapByte}x the used heap; writing one needs up to ~2x the heap; the analysis runs outside the program, at ${ours.memoryPerFileByte}x the file${memlab ? ` (memlab ${memlab.memoryPerFileByte}x)` : ''}`,
  executionCost: `allocation tracking (last measured iteration only) ${x(iterations.tracking.ratio)} on an allocation-heavy iteration (sampling profiler ${x(iterations.sampling32k.ratio)}); a snapshot of ${results.snapshot.heapUsedMiB} MiB took ${(results.snapshot.writeMs / 1000).toFixed(1)} s to write; analysis of a ${engine.snapshotMB} MB snapshot (parse at ${ours.parseMBps} MB/s, dominators, retained sizes) ${sec(ours.totalMs.median)} wall, ${sec(ours.cpuMs.median)} CPU${versus}`,
}], results);
