// bench/malloc: what the malloc interposer costs, against the untraced run of the same
// workload in the same run (repetitions interleaved, medians), in counting, record and
// --stacks modes, and heaptrack on the same workload when it is installed.
// Times are the traced program's wall time (the interposer set up as `memtrace malloc` does);
// reading the trace afterwards is measured once per mode as `analysis`; `cli-record` and
// `cli-stacks` are the whole command (`memtrace malloc [--stacks] -- …`: start, trace, reading,
// report), the time to the answer, beside heaptrack's whole command.
import { median, ratioSpread, writeResults, x } from './lib.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { interposerPath, readMallocLog } = await import(join(root, 'dist', 'index.js'));
const out = join(root, 'bench', 'out', 'malloc');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const perfDir = join(out, 'private');
mkdirSync(perfDir, { mode: 0o700 });
const REPS = Number(process.env.BENCH_REPS ?? 7);
// heaptrack takes ~x15 on the typed-array workload: run it fewer times (its ratio is its median
// against the median untraced run of the same run)
const HEAPTRACK_REPS = Number(process.env.BENCH_HEAPTRACK_REPS ?? 1);
const so = interposerPath();
if (!existsSync(so)) { console.error(`bench/malloc: ${so} is not built (npm run build:native)`); process.exit(1); }

const python = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim();
const haveHeaptrack = spawnSync('heaptrack', ['--version'], { stdio: 'ignore' }).status === 0;

const TYPED = 2_000_000;
writeFileSync(join(out, 'typed-arrays.js'), `let s = 0;
for (let i = 0; i < ${TYPED}; i++) { const a = new Float64Array(16); a[0] = i; s += a[0]; }
console.log(s > 0);
`);
writeFileSync(join(out, 'objects.js'), `const m = new Map();
for (let i = 0; i < 300000; i++) { m.set('k' + i, { i, s: 'v'.repeat(i % 50), a: [i, i + 1] }); if (m.size > 5000) m.clear(); }
console.log(JSON.stringify([...m.values()].slice(0, 1000)).length > 0);
`);
writeFileSync(join(out, 'bytes.py'), `keep = []
for i in range(1_500_000):
    b = b"x" * (600 + i % 300)
    if i % 100 == 0:
        keep.append(b)
    if len(keep) > 1000:
        keep = []
print(len(keep))
`);
const workloads = [
  { name: 'node-typed-arrays', label: `${TYPED / 1e6}M small typed arrays (node)`, cmd: [process.execPath, join(out, 'typed-arrays.js')], node: true },
  { name: 'node-objects', label: 'object-heavy node run', cmd: [process.execPath, join(out, 'objects.js')], node: true },
  { name: 'python3-bytes', label: 'python3 bytes objects', cmd: [python, join(out, 'bytes.py')], node: false },
];
const MODES = { untraced: null, count: 2, record: 0, stacks: 1, aggregate: 16 };

function runOnce(w, mode, tag) {
  const env = { ...process.env, NODE_OPTIONS: '' };
  let cmd = w.cmd;
  const file = join(out, `${w.name}-${mode}-${tag}.bin`);
  if (mode === 'heaptrack') cmd = ['heaptrack', '-o', join(out, `${w.name}-ht-${tag}`), ...w.cmd];
  else if (mode.startsWith('cli-')) cmd = [process.execPath, join(root, 'dist', 'cli.js'), 'malloc', ...({ 'cli-stacks': ['--stacks'], 'cli-aggregate': ['--stacks', '--aggregate'] }[mode] ?? []), '-o', file, '--', ...w.cmd];
  else if (mode !== 'untraced') {
    Object.assign(env, { LD_PRELOAD: so, MEMTRACE_MALLOC_OUT: file, MEMTRACE_MALLOC_FLAGS: String(MODES[mode]), MEMTRACE_MALLOC_MIN: '0', MEMTRACE_MALLOC_RUN: String(Date.now()) });
    // as `memtrace malloc --stacks` does: perf map (and node 20's v8 log) in a private directory
    if (mode === 'stacks' && w.node) Object.assign(env, { NODE_OPTIONS: '--perf-basic-prof --interpreted-frames-native-stack', MEMTRACE_MALLOC_DIR: perfDir, MEMTRACE_MALLOC_PERFMAP: '1', MEMTRACE_MALLOC_V8LOG: '1' });
  }
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0], cmd.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${w.name} ${mode}: exit ${r.status}: ${r.stderr}`);
  return { ms, file };
}

const modes = ['untraced', 'count', 'record', 'stacks', 'aggregate', 'cli-record', 'cli-stacks', 'cli-aggregate', ...(haveHeaptrack ? ['heaptrack'] : [])];
const figures = { reps: REPS, heaptrackReps: HEAPTRACK_REPS, note: 'wall time of the traced program, 2-core VM shared with other builds: noisy; medians of interleaved runs', heaptrack: haveHeaptrack ? spawnSync('heaptrack', ['--version'], { encoding: 'utf8' }).stdout.trim() : 'not installed: skipped', workloads: {} };

for (const w of workloads) {
  const times = Object.fromEntries(modes.map((m) => [m, []]));
  const extra = {};
  for (let rep = 0; rep < REPS; rep++) {
    for (const m of modes) {
      if (m === 'heaptrack' && rep >= HEAPTRACK_REPS) continue;
      const { ms, file } = runOnce(w, m, rep);
      times[m].push(ms);
      if (rep === 0 && m === 'cli-aggregate') extra.aggregate = { traceBytes: statSync(file).size };
      if (rep === 0 && (m === 'record' || m === 'stacks')) {
        const t0 = process.hrtime.bigint();
        const a = readMallocLog(file, { saveSymbols: m === 'stacks', perfDir });
        const analysisMs = Number(process.hrtime.bigint() - t0) / 1e6;
        const bytes = statSync(file).size;
        extra[m] = { events: a.header.events, traceBytes: bytes, bytesPerEvent: +(bytes / Math.max(1, a.header.events)).toFixed(2), analysisMs: Math.round(analysisMs), allocations: a.header.allocations };
      }
      for (const f of readdirSync(out)) if (f.includes(`-${m}-${rep}`) || f.includes(`-ht-${rep}`)) rmSync(join(out, f), { force: true });
      for (const f of readdirSync(perfDir)) rmSync(join(perfDir, f), { force: true });
    }
    process.stderr.write('.');
  }
  const base = median(times.untraced);
  const ratios = Object.fromEntries(modes.map((m) => [m, +(median(times[m]) / base).toFixed(2)]));
  // each mode's ratio with the min-max of its per-round ratios (heaptrack's rounds are fewer: against the median untraced run)
  const spreads = Object.fromEntries(modes.filter((m) => m !== 'heaptrack').map((m) => [m, ratioSpread(times[m], times.untraced)]));
  figures.workloads[w.name] = { label: w.label, medianMs: Object.fromEntries(modes.map((m) => [m, Math.round(median(times[m]))])), ratios, spreads, runsMs: Object.fromEntries(modes.map((m) => [m, times[m].map(Math.round)])), ...extra };
  process.stderr.write(`\n${w.name}: ${JSON.stringify(ratios)}\n`);
}

const W = figures.workloads;
const r = (name, mode) => (W[name].spreads[mode] ? x(W[name].spreads[mode]) : `x${W[name].ratios[mode]}`);
const ht = (name) => (haveHeaptrack ? `; heaptrack ${r(name, 'heaptrack')}` : '');
const describe = (name) => `${r(name, 'count')} count, ${r(name, 'record')} record, ${r(name, 'stacks')} --stacks, ${r(name, 'aggregate')} --aggregate${ht(name)}, whole command ${r(name, 'cli-record')} / ${r(name, 'cli-stacks')} / ${r(name, 'cli-aggregate')} (--stacks --aggregate) on ${W[name].label}`;

// A service's steady state for a minute under `memtrace malloc --stacks --aggregate`: the trace's
// growth between 15 s and the end, per hour, beside record mode's bytes per second on the same
// program (its first 5 s). Each "request" builds JSON and a Buffer and keeps them in a bounded cache.
const SERVICE_S = Number(process.env.BENCH_SERVICE_S ?? 60);
writeFileSync(join(out, 'service.js'), `const cache = new Map(); let i = 0; const end = Date.now() + Number(process.argv[2]) * 1000;
(function tick() {
  for (let k = 0; k < 200; k++) { const s = JSON.stringify({ i, tags: [i, i + 1], name: 'n' + i }); cache.set(i % 5000, Buffer.from(s.repeat(8))); i++; }
  if (Date.now() < end) setTimeout(tick, 1); else console.log(i);
})();
`);
async function traceGrowth(args, seconds, fromS) {
  const { spawn } = await import('node:child_process');
  const file = join(out, `service-${args.join('')}.bin`);
  const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), 'malloc', ...args, '--no-follow', '-o', file, '--', process.execPath, join(out, 'service.js'), String(seconds)], { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } });
  const sizeAt = (s) => new Promise((res) => setTimeout(() => { try { res(statSync(file).size); } catch { res(0); } }, s * 1000));
  const a = await sizeAt(fromS);
  const b = await sizeAt(seconds - fromS - 0.5);
  await new Promise((res) => child.once('exit', res));
  return { bytesPerHour: Math.round(((b - a) / (seconds - 0.5 - fromS)) * 3600), finalBytes: statSync(file).size };
}
const service = { seconds: SERVICE_S, aggregate: await traceGrowth(['--stacks', '--aggregate'], SERVICE_S, 15), record: await traceGrowth([], 6, 1) };
figures.service = service;
process.stderr.write(`service: ${JSON.stringify(service)}\n`);
const mb = (b) => `${(b / 1e6).toFixed(b < 1e7 ? 2 : 0)} MB`;
const rows = [{
  tool: '`malloc`',
  memoryGranularity: 'every malloc/calloc/realloc/free/memalign… call (and anonymous mmap with --mmap), by call site with --stacks',
  executionGranularity: 'every call, ns timestamps; with --stacks a native + JS stack per call',
  memoryCost: `256 KiB buffer per thread (+16 MiB reserved stack table with --stacks); trace ≈ ${W['node-typed-arrays'].record.bytesPerEvent} B/event (2M typed arrays: ${mb(W['node-typed-arrays'].record.traceBytes)}; with --aggregate ${mb(W['node-typed-arrays'].aggregate.traceBytes)} with stacks); a steady node service: ${mb(service.record.bytesPerHour)} an hour recorded, ${mb(service.aggregate.bytesPerHour)} an hour with --stacks --aggregate (live set and site counters kept in the program)`,
  executionCost: workloads.map((w) => describe(w.name)).join('; '),
}];
writeResults('malloc', rows, figures, { withSpread: true });
console.log(JSON.stringify(rows[0], null, 2));
rmSync(out, { recursive: true, force: true });
