// Benchmarks `memtrace heap`: share of bytes on the right line, totals against
// `node --heap-prof`, and the overhead against the untraced run of the same workload
// (interleaved repetitions, medians). Writes bench/results/heap.json.
import { median } from './lib.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const cli = join(root, 'dist', 'cli.js');
const accuracy = join(root, 'test', 'fixtures', 'heap', 'accuracy.js');
const work = join(here, 'workloads', 'heap-work.js');
const tmp = mkdtempSync(join(tmpdir(), 'memtrace-heap-bench-'));
const REPS = Number(process.env.BENCH_REPS ?? 7);
const MiB = 1024 * 1024;

const lineOf = (text) => readFileSync(accuracy, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
const LINES = { keepForty: lineOf('function keepForty'), dropFour: lineOf('function dropFour'), keepFourHundred: lineOf('function keepFourHundred') };
const TRUTH = { keepForty: 40 * MiB, dropFour: 4 * MiB, keepFourHundred: 400 * 1024 };

function run(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', cwd: tmp, maxBuffer: 1 << 26 });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop();
  return { wallMs, ...(last?.startsWith('{') ? JSON.parse(last) : {}) };
}

function summary(log) {
  const r = spawnSync(process.execPath, [cli, 'report', log, '--format', 'json', '--top', '1000'], { encoding: 'utf8' });
  return JSON.parse(r.stdout);
}

const ONLY_MOMENTS = process.env.BENCH_ONLY === 'moments';
const OLD_REPS = ONLY_MOMENTS ? 0 : REPS;
const previous = ONLY_MOMENTS ? JSON.parse(readFileSync(join(here, 'results', 'heap.json'), 'utf8')) : undefined;

// 1. Accuracy: bytes per known line, sampled at the default interval (--all: everything
//    allocated) over several runs; share of bytes on the right line.
const acc = [];
for (let i = 0; i < OLD_REPS; i++) {
  const log = join(tmp, `acc${i}.jsonl`);
  run([process.execPath, cli, 'heap', '--all', '-o', log, '--', process.execPath, accuracy]);
  const s = summary(log);
  const byFn = {};
  let right = 0;
  for (const [fn, line] of Object.entries(LINES)) {
    const site = s.top.find((x) => x.where.endsWith(`accuracy.js:${line}`));
    byFn[fn] = site ? site.alloc : 0;
    right += byFn[fn];
  }
  acc.push({ share: right / s.totals.alloc, byFn, total: s.totals.alloc });
}
const share = median(acc.map((a) => a.share));
const estimates = Object.fromEntries(Object.keys(LINES).map((fn) => [fn, median(acc.map((a) => a.byFn[fn]))]));

// 2. Live totals against `node --heap-prof` (same V8 sampler, 32 KiB): per function.
const liveOurs = [], liveHeapProf = [];
for (let i = 0; i < OLD_REPS; i++) {
  const log = join(tmp, `live${i}.jsonl`);
  run([process.execPath, cli, 'heap', '-o', log, '--', process.execPath, accuracy]);
  const s = summary(log);
  liveOurs.push(Object.fromEntries(Object.entries(LINES).map(([fn, line]) => [fn, s.top.find((x) => x.where.endsWith(`accuracy.js:${line}`))?.live ?? 0])));
  const dir = join(tmp, `hp${i}`);
  mkdirSync(dir);
  run([process.execPath, '--heap-prof', `--heap-prof-dir=${dir}`, accuracy]);
  const prof = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8'));
  const per = { keepForty: 0, dropFour: 0, keepFourHundred: 0 };
  (function walk(n) { if (n.callFrame.functionName in per) per[n.callFrame.functionName] += n.selfSize; n.children.forEach(walk); })(prof.head);
  liveHeapProf.push(per);
}
const vsHeapProf = Object.fromEntries(Object.keys(LINES).map((fn) => [fn, { memtrace: median(liveOurs.map((o) => o[fn])), heapProf: median(liveHeapProf.map((o) => o[fn])) }]));

// 3. Overhead: untraced, sampled (default interval), --all, --exact, interleaved; on the
//    accuracy workload (large arrays) and on one million small escaping objects.
const ROUNDS = String(process.env.BENCH_ROUNDS ?? 5);
const SMALL = String(process.env.BENCH_SMALL ?? 1000000);
const heap = (flags, name, args) => [process.execPath, cli, 'heap', ...flags, '-o', join(tmp, `${name}.jsonl`), '--', process.execPath, work, ...args];
const configs = {
  untraced: [process.execPath, work, 'accuracy', ROUNDS],
  sampled: heap([], 'w-s', ['accuracy', ROUNDS]),
  sampledAll: heap(['--all'], 'w-a', ['accuracy', ROUNDS]),
  exact: heap(['--exact'], 'w-e', ['accuracy', ROUNDS]),
  smallUntraced: [process.execPath, work, 'small', SMALL],
  smallSampled: heap([], 'w-ss', ['small', SMALL]),
  smallExact: heap(['--exact'], 'w-se', ['small', SMALL]),
};
const times = Object.fromEntries(Object.keys(configs).map((k) => [k, { work: [], wall: [] }]));
for (let i = 0; i < OLD_REPS; i++) {
  for (const [k, args] of Object.entries(configs)) {
    if (k === 'smallExact' && i >= 3) continue; // ~10 s each: three are enough
    const r = run(args);
    times[k].work.push(r.workMs);
    times[k].wall.push(r.wallMs);
  }
}
const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { workMs: median(v.work), wallMs: median(v.wall) }]));
const ratio = (k, f, base = 'untraced') => med[k][f] / med[base][f];
const exactLog = ONLY_MOMENTS ? undefined : summary(join(tmp, 'w-e.jsonl'));
const sampledLog = ONLY_MOMENTS ? undefined : summary(join(tmp, 'w-s.jsonl'));

// 4. The moments and external attribution: time inside the program as ratios to the untraced
//    run (interleaved, medians with min-max), on the accuracy workload and on 8 KiB Buffers;
//    and the whole command's wall time on a short program against `node --heap-prof` at the
//    same interval.
const spread = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
function interleave(variants, reps, field) {
  const t = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let i = 0; i < reps; i++) for (const [k, args] of Object.entries(variants)) t[k].push(run(args)[field]);
  return t;
}
function ratios(t, base) {
  const b = median(t[base]);
  return Object.fromEntries(Object.entries(t).map(([k, xs]) => [k, { ...spread(xs), ratio: median(xs) / b, ratioMin: Math.min(...xs) / b, ratioMax: Math.max(...xs) / b }]));
}
const MREPS = Number(process.env.BENCH_MOMENT_REPS ?? 7);
const BUFS = String(process.env.BENCH_BUFFERS ?? 50000);
const moments = ratios(interleave({
  untraced: [process.execPath, work, 'accuracy', ROUNDS],
  sampled: heap([], 'm-s', ['accuracy', ROUNDS]),
  noExternal: heap(['--no-external'], 'm-n', ['accuracy', ROUNDS]),
  atPeak: heap(['--at', 'peak'], 'm-p', ['accuracy', ROUNDS]),
  every100ms: heap(['--every', '100ms'], 'm-e', ['accuracy', ROUNDS]),
}, MREPS, 'workMs'), 'untraced');
const external = ratios(interleave({
  untraced: [process.execPath, work, 'buffers', BUFS],
  sampled: heap([], 'x-s', ['buffers', BUFS]),
  noExternal: heap(['--no-external'], 'x-n', ['buffers', BUFS]),
  atPeak: heap(['--at', 'peak'], 'x-p', ['buffers', BUFS]),
}, MREPS, 'workMs'), 'untraced');
const hpDir = join(tmp, 'hp-wall');
mkdirSync(hpDir);
const wall = ratios(interleave({
  untraced: [process.execPath, work, 'accuracy', '1'],
  heapProf: [process.execPath, '--heap-prof', '--heap-prof-interval=32768', `--heap-prof-dir=${hpDir}`, work, 'accuracy', '1'],
  memtrace: heap([], 'wall', ['accuracy', '1']),
  memtraceNoExternal: heap(['--no-external'], 'wall-n', ['accuracy', '1']),
}, MREPS, 'wallMs'), 'untraced');
const momentFigures = {
  note: 'time inside the program (work) or of the whole command (wall), ms; ratio = median / median untraced, ratioMin/Max = min/max run / median untraced',
  accuracyWork: moments, buffersWork: external, shortProgramWall: wall,
  wallOverHeapProfMs: wall.memtrace.median - wall.heapProf.median,
  loadAverage: loadavg(),
};

const x = (v) => `x${v.toFixed(2)}`;
const result = ONLY_MOMENTS ? undefined : {
  tool: 'heap',
  node: process.version,
  date: new Date().toISOString(),
  rows: [{
    tool: '`heap`',
    memoryGranularity: 'sampled: one sample per 32 KiB allocated on average, charged to the allocating function (file:line of the function, through source maps); --exact: every object',
    executionGranularity: 'whole run (CLI) or a block (library); live at the end, or everything allocated with --all',
    memoryCost: `memtrace's own objects in the program: ${(sampledLog.totals.toolLive / 1024).toFixed(0)} KiB live sampled, ${(exactLog.totals.toolLive / 1024).toFixed(0)} KiB with --exact (plus V8's sample/trace tables)`,
    executionCost: `${x(ratio('sampled', 'workMs'))} sampled, ${x(ratio('exact', 'workMs'))} --exact on 40 MiB + 4 MiB + 400 KiB arrays; ${x(ratio('smallSampled', 'workMs', 'smallUntraced'))} sampled, ${x(ratio('smallExact', 'workMs', 'smallUntraced'))} --exact on 1M small objects`,
  }],
  figures: {
    repetitions: REPS,
    rightLineShare: share,
    rightLineShareRuns: acc.map((a) => a.share),
    estimatesMedian: estimates,
    truth: TRUTH,
    liveVsHeapProf: vsHeapProf,
    medians: med,
    ratios: {
      sampledWork: ratio('sampled', 'workMs'), sampledWall: ratio('sampled', 'wallMs'),
      sampledAllWork: ratio('sampledAll', 'workMs'), sampledAllWall: ratio('sampledAll', 'wallMs'),
      exactWork: ratio('exact', 'workMs'), exactWall: ratio('exact', 'wallMs'),
      smallSampledWork: ratio('smallSampled', 'workMs', 'smallUntraced'), smallSampledWall: ratio('smallSampled', 'wallMs', 'smallUntraced'),
      smallExactWork: ratio('smallExact', 'workMs', 'smallUntraced'), smallExactWall: ratio('smallExact', 'wallMs', 'smallUntraced'),
    },
    goals: { sampledRatio: 1.05, rightLineShare: 0.95, exactRatio: 10 },
    note: '2-core VM shared with other builds (load average ~5 while measured): medians of interleaved repetitions; work = time measured inside the program, wall = whole command (node start, profile writing, reading)',
  },
};
mkdirSync(join(here, 'results'), { recursive: true });
const out = ONLY_MOMENTS ? { ...previous, figures: { ...previous.figures, moments: momentFigures } } : { ...result, figures: { ...result.figures, moments: momentFigures } };
writeFileSync(join(here, 'results', 'heap.json'), JSON.stringify(out, null, 2) + '\n');
console.log(JSON.stringify(ONLY_MOMENTS ? momentFigures : { share, estimates, vsHeapProf, ratios: result.figures.ratios, medians: med, moments: momentFigures }, null, 2));
rmSync(tmp, { recursive: true, force: true });
