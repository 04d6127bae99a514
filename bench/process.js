// bench/process: what monitoring costs. The monitored program's slowdown at 10 Hz and 1 kHz
// (its own running time, and wall time), memtrace's own CPU, and the cost of one sample,
// all against the unmonitored run in the same run.
import { ChannelHost } from '../dist/core/channel-host.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TreeSampler } from '../dist/tools/process/sampler.js';
import { cli, compare, median, root, writeResults, x } from './lib.js';

const REPS = Number(process.env.BENCH_REPS ?? 7);
const out = mkdtempSync(join(tmpdir(), 'memtrace-bench-'));
const workload = ['node', 'bench/workloads/json-churn.js', '12'];

// 1. The program's slowdown: its own time (start-up of memtrace excluded) and wall time.
function run(argv) {
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1));
  return { own: res.ms, cpu: res.cpuMs, wall };
}
const variants = {
  untraced: () => run(workload),
  '10 Hz': () => run(['node', cli, 'process', '-i', '100ms', '--no-summary', '-o', join(out, 'a.jsonl'), '--', ...workload]),
  '1 kHz': () => run(['node', cli, 'process', '-i', '1ms', '--no-summary', '-o', join(out, 'b.jsonl'), '--', ...workload]),
};
const own = {}, wall = {}, cpuMs = {};
for (const k of Object.keys(variants)) { own[k] = []; wall[k] = []; cpuMs[k] = []; }
variants.untraced(); // warm the file cache
for (let i = 0; i < REPS; i++) {
  for (const [k, f] of Object.entries(variants)) { const r = f(); own[k].push(r.own); wall[k].push(r.wall); cpuMs[k].push(r.cpu); }
}
const ratio = (set, k) => median(set[k]) / median(set.untraced);
const slowdown = {};
for (const k of Object.keys(variants)) {
  slowdown[k] = {
    cpuMs: Math.round(median(cpuMs[k])), cpuRatio: +ratio(cpuMs, k).toFixed(3),
    ownMs: Math.round(median(own[k])), ownRatio: +ratio(own, k).toFixed(3),
    wallMs: Math.round(median(wall[k])), wallRatio: +ratio(wall, k).toFixed(3),
  };
  console.log(`${k.padEnd(9)} program CPU ${slowdown[k].cpuMs} ms (${x(slowdown[k].cpuRatio)}), program time ${slowdown[k].ownMs} ms (${x(slowdown[k].ownRatio)}), wall with start-up ${slowdown[k].wallMs} ms (${x(slowdown[k].wallRatio)})`);
}

// 2. memtrace's own CPU while monitoring a sleeping program for 3 s, start-up subtracted.
function cpuOf(interval, seconds) {
  const r = spawnSync('bash', ['-c', `node "${cli}" process -i ${interval} --no-summary -o "${join(out, 'c.jsonl')}" -- sleep ${seconds} >/dev/null 2>&1; times`], { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').at(-1); // children's user and system time
  const [u, s] = line.split(/\s+/).map((t) => { const m = /(\d+)m([\d.]+)s/.exec(t); return Number(m[1]) * 60 + Number(m[2]); });
  return u + s;
}
const cpu = {};
for (const interval of ['100ms', '1ms']) {
  const long = median([cpuOf(interval, 3), cpuOf(interval, 3), cpuOf(interval, 3)]);
  const short = median([cpuOf(interval, 0), cpuOf(interval, 0), cpuOf(interval, 0)]);
  cpu[interval] = +(((long - short) / 3) * 100).toFixed(2);
  console.log(`memtrace's own CPU at ${interval}: ${cpu[interval]}% of one core`);
}

// 3. The cost of one sample, in this process, of a sleeping child.
// 4. The memory the probe adds to a Node program (the ESM loader that --import starts, the probe).
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
  memoryCost: `none for other programs (the sampler runs in memtrace); +${Math.round(probeKiB / 102.4) / 10} MiB RSS in a Node program for its V8 probe (mostly the ESM loader --import starts); in-process: one sampling thread`,
  executionCost: `program CPU ${x(slowdown['10 Hz'].cpuRatio)} at 10 Hz, ${x(slowdown['1 kHz'].cpuRatio)} at 1 kHz (its running time ${x(slowdown['10 Hz'].ownRatio)} / ${x(slowdown['1 kHz'].ownRatio)}); memtrace itself ${cpu['100ms']}% of a core at 10 Hz, ${cpu['1ms']}% at 1 kHz; ${sampleUs.plain} µs a sample`,
}], { slowdown, memtraceCpuPercent: cpu, sampleUs, probeRssKiB: probeKiB, reps: REPS });
