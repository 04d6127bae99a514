// bench/process: what monitoring costs. The monitored program's slowdown at 10 Hz and 1 kHz
// (its own running time, and wall time), memtrace's own CPU, and the cost of one sample,
// all against the unmonitored run in the same run.
import { ChannelHost } from '../dist/core/channel-host.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TreeSampler } from '../dist/tools/process/sampler.js';
import { cli, median, pct, ratioSpread, root, spread, writeResults, x } from './lib.js';

const REPS = Number(process.env.BENCH_REPS ?? 7);
const out = mkdtempSync(join(tmpdir(), 'memtrace-bench-'));
const workload = ['node', 'bench/workloads/json-churn.js', '12'];

// 1. The program's slowdown: its own CPU and running time (start-up of memtrace excluded) and
// wall time, interleaved rounds; each ratio with the min-max of its per-round ratios. "1 kHz" is
// paced by the timerfd helper (native/proc_sampler.c) when built, "1 kHz, Atomics.wait" by the
// sampling thread alone (MEMTRACE_NO_PACER), side by side.
function run(argv, env = {}) {
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1));
  return { own: res.ms, cpu: res.cpuMs, wall };
}
const noPacer = { MEMTRACE_NO_PACER: '1' };
const variants = {
  untraced: () => run(workload),
  '10 Hz': () => run(['node', cli, 'process', '-i', '100ms', '--no-summary', '-o', join(out, 'a.jsonl'), '--', ...workload]),
  '1 kHz': () => run(['node', cli, 'process', '-i', '1ms', '--no-summary', '-o', join(out, 'b.jsonl'), '--', ...workload]),
  '1 kHz, Atomics.wait': () => run(['node', cli, 'process', '-i', '1ms', '--no-summary', '-o', join(out, 'b.jsonl'), '--', ...workload], noPacer),
};
const own = {}, wall = {}, cpuMs = {};
for (const k of Object.keys(variants)) { own[k] = []; wall[k] = []; cpuMs[k] = []; }
variants.untraced(); // warm the file cache
for (let i = 0; i < REPS; i++) {
  for (const [k, f] of Object.entries(variants)) { const r = f(); own[k].push(r.own); wall[k].push(r.wall); cpuMs[k].push(r.cpu); }
}
const slowdown = {};
for (const k of Object.keys(variants)) {
  slowdown[k] = {
    cpuMs: Math.round(median(cpuMs[k])), cpu: ratioSpread(cpuMs[k], cpuMs.untraced),
    ownMs: Math.round(median(own[k])), own: ratioSpread(own[k], own.untraced),
    wallMs: Math.round(median(wall[k])), wall: ratioSpread(wall[k], wall.untraced),
  };
  console.log(`${k.padEnd(20)} program CPU ${slowdown[k].cpuMs} ms (${x(slowdown[k].cpu)}), program time ${slowdown[k].ownMs} ms (${x(slowdown[k].own)}), wall with start-up ${slowdown[k].wallMs} ms (${x(slowdown[k].wall)})`);
}

// 2. memtrace's own CPU while monitoring a sleeping program: read from /proc over 5 s of steady
// sampling, start-up and warm-up excluded (the first 3 s: in seconds 1-3 V8's background threads
// compile the sampling code, up to 2% of a core for a second, once): memtrace's threads plus its
// children other than the program (the timerfd helper). Interleaved rounds; the spread is over
// the rounds. (Subtracting a 0 s run's start-up from a 3 s run's total, as before, moved by
// several % between rounds on a loaded machine.)
// CPU time in ns, every thread of `pid` (schedstat: exact, where stat's clock ticks are 10 ms).
const cpuNsOf = (pid) => {
  try {
    return readdirSync(`/proc/${pid}/task`).reduce((a, t) => a + Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'latin1').split(' ')[0]), 0);
  } catch { return 0; }
};
const childrenOf = (pid) => { try { return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'latin1').trim().split(' ').filter(Boolean).map(Number)); } catch { return []; } };
const sleepMs = (ms) => new Promise((r) => setTimeout(r, ms));
async function cpuOf(interval, env = {}) {
  const m = spawn('node', [cli, 'process', '-i', interval, '--no-summary', '-o', join(out, 'c.jsonl'), '--', 'sleep', '9'], { stdio: 'ignore', env: { ...process.env, ...env } });
  await sleepMs(3000);
  const own = () => cpuNsOf(m.pid) + childrenOf(m.pid).filter((c) => !/^sleep/.test(readFileSync(`/proc/${c}/comm`, 'latin1'))).reduce((a, c) => a + cpuNsOf(c), 0);
  const t0 = performance.now(), a = own();
  await sleepMs(5000);
  const b = own(), secs = (performance.now() - t0) / 1000;
  await new Promise((r) => m.once('exit', r));
  return +(((b - a) / 1e9 / secs) * 100).toFixed(2);
}
const CPU_REPS = Number(process.env.BENCH_CPU_REPS ?? 3);
const cpuModes = { '100ms': ['100ms', {}], '1ms': ['1ms', {}], '1ms, Atomics.wait': ['1ms', noPacer] };
const per = Object.fromEntries(Object.keys(cpuModes).map((k) => [k, []]));
for (let i = 0; i < CPU_REPS; i++) {
  for (const [k, [interval, env]] of Object.entries(cpuModes)) per[k].push(await cpuOf(interval, env));
}
const cpu = {};
for (const k of Object.keys(cpuModes)) {
  cpu[k] = spread(per[k]);
  console.log(`memtrace's own CPU at ${k}: ${pct(cpu[k])} of one core (rounds: ${per[k].join(', ')})`);
}

// 2b. The program's CPU: what the probe (its V8 figures every 50 ms at 1 kHz, every 100 ms at
// 10 Hz) costs inside a Node program, as CPU time of the program's threads over 5 s of steady
// running, against the same program untraced, interleaved. A CPU-bound program's CPU grows by at
// most this share (the timed workload above cannot show under 1%: its rounds vary by ±30%).
const idleNode = ['node', '-e', 'setTimeout(() => {}, 9000)'];
async function programCpuOf(interval) {
  const m = interval
    ? spawn('node', [cli, 'process', '-i', interval, '--no-summary', '-o', join(out, 'd.jsonl'), '--', ...idleNode], { stdio: 'ignore' })
    : spawn(idleNode[0], idleNode.slice(1), { stdio: 'ignore' });
  await sleepMs(3000);
  const pid = interval ? childrenOf(m.pid).find((c) => readFileSync(`/proc/${c}/cmdline`, 'latin1').includes('setTimeout')) : m.pid;
  const a = cpuNsOf(pid), t0 = performance.now();
  await sleepMs(5000);
  const b = cpuNsOf(pid), secs = (performance.now() - t0) / 1000;
  await new Promise((r) => m.once('exit', r));
  return ((b - a) / 1e9 / secs) * 100;
}
const programModes = { untraced: undefined, '100ms': '100ms', '1ms': '1ms' };
const programPer = Object.fromEntries(Object.keys(programModes).map((k) => [k, []]));
for (let i = 0; i < CPU_REPS; i++) {
  for (const [k, interval] of Object.entries(programModes)) programPer[k].push(await programCpuOf(interval));
}
const probeCpu = {};
for (const k of ['100ms', '1ms']) {
  const added = programPer[k].map((v, i) => +(v - programPer.untraced[i]).toFixed(3));
  probeCpu[k] = spread(added);
  console.log(`the probe's CPU in a Node program at ${k}: ${pct(probeCpu[k], 3)} of a core (rounds: ${added.join(', ')}; untraced ${programPer.untraced.map((v) => v.toFixed(3)).join(', ')})`);
}

// 3. The cost of one sample, in this process, of a sleeping child.
// 4. The memory the probe adds to a Node program (the probe's modules, loaded as memtrace process loads them).
function rssOf(env) {
  const r = spawnSync('node', ['-e', 'setTimeout(() => console.log(process.memoryUsage().rss), 300)'], { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore', 'ignore'] });
  return Number(r.stdout.trim());
}
// The probe with a real channel offer, as memtrace process makes it (it connects and sends).
const channel = await ChannelHost.open({ config: { periodMs: 100 } });
const probeEnv = channel.environment({}, new URL('../dist/runtime/process-probe.js', import.meta.url).href);
const probeKiB = Math.round(median([0, 1, 2, 3, 4].map(() => rssOf(probeEnv) - rssOf({}))) / 1024);
channel.close();
console.log(`the probe adds ${probeKiB} KiB of RSS to a Node program`);

const child = spawn('sleep', ['30']);
await new Promise((r) => child.once('spawn', r));
function perSample(opts, n) {
  const s = new TreeSampler(child.pid, opts);
  s.sample(0);
  const t0 = performance.now();
  for (let i = 1; i <= n; i++) s.sample(i);
  const us = ((performance.now() - t0) * 1000) / n;
  s.close();
  return +us.toFixed(2);
}
const sampleUs = {
  plain: perSample({}, 20000),
  children: perSample({ children: true, rescanMs: 0 }, 5000),
  detail: perSample({ detail: true }, 5000),
};
child.kill();
console.log(`one sample: ${sampleUs.plain} µs; with a tree rescan every sample ${sampleUs.children} µs; with --detail ${sampleUs.detail} µs`);

writeResults('process', [{
  tool: '`process`',
  memoryGranularity: 'RSS split into anonymous / file-backed / shared, swap, page faults, CPU; V8 heap, external and array buffers for Node programs; PSS/USS with --detail',
  executionGranularity: 'regular time intervals (any PID; whole process trees with --children)',
  memoryCost: `none for other programs (the sampler runs in memtrace); +${Math.round(probeKiB / 102.4) / 10} MiB RSS in a Node program for its V8 probe (one CommonJS bundle loaded with --require; node:net only without the runtime addon); in-process: one sampling thread`,
  executionCost: `program CPU ${x(slowdown['10 Hz'].cpu)} at 10 Hz, ${x(slowdown['1 kHz'].cpu)} at 1 kHz (its running time ${x(slowdown['10 Hz'].own)} / ${x(slowdown['1 kHz'].own)}); the probe's own CPU in the program ${pct(probeCpu['100ms'], 3)} of a core at 10 Hz, ${pct(probeCpu['1ms'], 3)} at 1 kHz; memtrace itself ${pct(cpu['100ms'])} of a core at 10 Hz, ${pct(cpu['1ms'])} at 1 kHz (timerfd-paced; paced by Atomics.wait alone: ${pct(cpu['1ms, Atomics.wait'])}, program CPU ${x(slowdown['1 kHz, Atomics.wait'].cpu)}); ${sampleUs.plain} µs a sample`,
}], { slowdown, memtraceCpuPercent: cpu, probeCpuPercent: probeCpu, sampleUs, probeRssKiB: probeKiB, reps: REPS, cpuReps: CPU_REPS }, { withSpread: true });
