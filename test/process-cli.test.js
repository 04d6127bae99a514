import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, memtrace, memtraceAsync, readJsonl, root, sleep, tmp } from './helpers.js';

const MB = 1024 * 1024;

/** Waits until the file at `path` has at least `n` lines (a log being written by another process). */
async function waitForLines(path, n, timeoutMs = 30_000) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (existsSync(path) && readFileSync(path, 'utf8').split('\n').length > n) return;
    await sleep(50);
  }
  throw new Error(`${path} did not reach ${n} lines`);
}

test('process: the log sees a 200 MB rise in steps, agreeing with the kernel, marks between the right samples', () => {
  const dir = tmp();
  const log = join(dir, 'steps.jsonl');
  const r = memtrace(['process', '--interval', '20ms', '--output', log, '--', process.execPath, 'test/fixtures/process/steps.js']);
  assert.equal(r.status, 0, r.stderr);
  const kernel = JSON.parse(r.stdout);
  const [header, ...records] = readJsonl(log);
  assert.equal(header.tool, 'process');
  assert.equal(header.interval_ms, 20);
  const samples = records.filter((x) => typeof x.rss === 'number');
  const marks = records.filter((x) => typeof x.mark === 'string');
  assert.ok(samples.length > 40, `only ${samples.length} samples`);
  // The sample before step 1 and the last sample: the rise is 200 MB ±15%.
  const m1 = marks.find((m) => m.mark === 'step 1');
  const before = samples.filter((s) => s.t < m1.t).at(-1);
  // The last sample may catch the program tearing down at exit: take the peak, which it holds.
  const last = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
  const rise = last.rss - before.rss;
  assert.ok(Math.abs(rise - 200 * MB) < 0.15 * 200 * MB, `rise ${rise / MB} MB`);
  // Against the kernel's own figures, read by the program itself.
  assert.ok(Math.abs(last.rss - kernel.after) < 0.05 * kernel.after, `log ${last.rss} vs kernel ${kernel.after}`);
  assert.ok(Math.abs(before.rss - kernel.before) < 0.10 * kernel.before + 4 * MB, `log ${before.rss} vs kernel ${kernel.before}`);
  // Marks land between the right samples: each step's 40 MB shows up after its mark, not before.
  assert.deepEqual(marks.map((m) => m.mark), ['step 1', 'step 2', 'step 3', 'step 4', 'step 5']);
  for (let i = 0; i < marks.length - 1; i++) {
    const pre = samples.filter((s) => s.t <= marks[i].t).at(-1);
    const post = samples.filter((s) => s.t < marks[i + 1].t).at(-1);
    const step = post.rss - pre.rss;
    assert.ok(step > 30 * MB && step < 50 * MB, `step ${i + 1}: ${step / MB} MB`);
  }
  // The V8 split from the probe: array buffers hold the 200 MB.
  assert.ok(last.arrayBuffers >= 200 * MB, `arrayBuffers ${last.arrayBuffers}`);
  assert.ok(last.anon > 0 && last.file > 0 && last.anon + last.file + last.shmem > 0.9 * last.rss);
  // Summary on stderr.
  assert.match(r.stderr, /RSS\s+start .* peak .* end /);
  assert.match(r.stderr, /slope/);
  assert.match(r.stderr, new RegExp(`log: ${log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});

test('process: stdout, stderr and exit code pass through; death by signal is 128+n', () => {
  const dir = tmp();
  const r = memtrace(['process', '-o', join(dir, 'a.jsonl'), '--', process.execPath, 'test/fixtures/process/exit-code.js', '7']);
  assert.equal(r.status, 7);
  assert.equal(r.stdout, 'to stdout\n');
  assert.match(r.stderr, /^to stderr\n/);
  const k = memtrace(['process', '--no-summary', '-o', join(dir, 'b.jsonl'), '--', process.execPath, 'test/fixtures/process/exit-code.js', 'SIGTERM']);
  assert.equal(k.status, 128 + 15);
  const exit = readJsonl(join(dir, 'b.jsonl')).find((x) => x.exit);
  assert.deepEqual(exit.exit, { code: null, signal: 'SIGTERM' });
});

test('process: without --output the log is named by tool, time and PID in the current directory', () => {
  const dir = tmp();
  const r = memtrace(['process', '--', process.execPath, '-e', 'setTimeout(()=>{},150)'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  const m = /log: (memtrace-process-\d{8}-\d{6}-\d+\.jsonl)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.ok(existsSync(join(dir, m[1])));
});

test('process --pid watches a running python3 process until it exits', async () => {
  const dir = tmp();
  const py = spawn('python3', ['-c', 'import time\nx = bytearray(80 * 1024 * 1024)\nfor i in range(len(x)//4096): x[i*4096] = 1\ntime.sleep(1.2)'], { stdio: 'ignore' });
  await sleep(300);
  const log = join(dir, 'py.jsonl');
  // Run memtrace asynchronously: this test process must reap python3 when it exits.
  const r = await memtraceAsync(['process', '--pid', String(py.pid), '-i', '50ms', '-o', log]).done;
  assert.equal(r.status, 0, r.stderr);
  const [header, ...records] = readJsonl(log);
  assert.equal(header.pid, py.pid);
  assert.match(header.command.join(' '), /python3?|-c/);
  const samples = records.filter((x) => x.rss);
  assert.ok(samples.length >= 5);
  // (python3 may start as a shell shim that execs the interpreter: take the largest sample.)
  const peak = Math.max(...samples.map((x) => x.rss));
  assert.ok(peak > 80 * MB, `python RSS ${peak}`);
});

test('process --children sees a child allocation, with one series per process', () => {
  const dir = tmp();
  const log = join(dir, 'tree.jsonl');
  const r = memtrace(['process', '--children', '-i', '30ms', '-o', log, '--', process.execPath, 'test/fixtures/process/child-alloc.js']);
  assert.equal(r.status, 0, r.stderr);
  const records = readJsonl(log).slice(1);
  const procs = records.filter((x) => typeof x.proc === 'number');
  assert.ok(procs.length >= 1, 'no child seen');
  const child = procs.find((p) => p.cmd.includes('-e'));
  assert.ok(child, JSON.stringify(procs));
  const samples = records.filter((x) => x.procs);
  const childPeak = Math.max(...samples.map((s) => s.procs.find((p) => p[0] === child.proc)?.[1] ?? 0));
  assert.ok(childPeak > 110 * MB, `child peak ${childPeak / MB} MB`);
  const totalPeak = Math.max(...samples.map((s) => s.rss));
  assert.ok(totalPeak > childPeak);
  assert.match(r.stderr, /processes in the tree/);
});

test('process: SIGTERM to memtrace reaches the program, the log is completed and the summary printed', async () => {
  const dir = tmp();
  const log = join(dir, 'term.jsonl');
  const { child, done } = memtraceAsync(['process', '-i', '20ms', '-o', log, '--', process.execPath, '-e', 'setInterval(()=>{}, 1000)']);
  await waitForLines(log, 15);
  child.kill('SIGTERM');
  const r = await done;
  assert.equal(r.status, 143, r.stderr);
  assert.match(r.stderr, /killed by SIGTERM/);
  const records = readJsonl(log).slice(1);
  assert.ok(records.filter((x) => x.rss).length > 10);
  assert.deepEqual(records.at(-1).exit, { code: null, signal: 'SIGTERM' });
});

test('process: SIGKILL of memtrace itself leaves a log valid up to its last line', async () => {
  const dir = tmp();
  const log = join(dir, 'kill.jsonl');
  const { child, done } = memtraceAsync(['process', '-i', '10ms', '-o', log, '--', process.execPath, '-e', 'setTimeout(()=>{}, 30000)']);
  await waitForLines(log, 60); // flushed at least every second
  await sleep(300);
  child.kill('SIGKILL');
  await done;
  const text = readFileSync(log, 'utf8');
  const lines = text.split('\n');
  const complete = text.endsWith('\n') ? lines.slice(0, -1) : lines.slice(0, -1);
  for (const l of complete) JSON.parse(l);
  assert.ok(complete.length > 50, `${complete.length} complete lines`);
  const rep = memtrace(['report', log, '--format', 'json']);
  assert.equal(rep.status, 0, rep.stderr);
  assert.ok(JSON.parse(rep.stdout).samples > 50);
});

test('process: bad input gets one clear line and exit 2', () => {
  const dir = tmp();
  const cases = [
    [['process', '--pid', '999999'], /no process with PID 999999/],
    [['process', '--pid', 'abc'], /--pid: 'abc' is not a process id/],
    [['process', '--interval', 'abc', '--', 'true'], /--interval: 'abc' is not a duration/],
    [['process', '--interval', '0', '--', 'true'], /--interval: '0' must be greater than zero/],
    // 600 h overflows the probe's timer (2³¹ ms): a TimeoutOverflowWarning on the program's stderr.
    [['process', '--interval', '600h', '--', process.execPath, '-e', 'console.log(1)'], /^memtrace: --interval: '600h' is too long \(allowed: 1ms to 24d\)\n$/],
    [['process', '--interval', '0.0001ms', '--', process.execPath, '-e', 'console.log(1)'], /^memtrace: --interval: '0.0001ms' is too short \(allowed: 1ms to 24d\)\n$/],
    [['process', '--interval', '1e3', '--', 'true'], /^memtrace: --interval: '1e3' is not a duration/],
    [['process', '--interval', '-5ms', '--', 'true'], /error: unknown option '-5ms'|is not a duration/],
    [['process'], /no command given/],
    [['process', '--bogus', '--', 'true'], /unknown option '--bogus'/],
    [['process', '-o', '/nonexistent/dir/x.jsonl', '--', 'true'], /cannot write log \/nonexistent\/dir\/x.jsonl: no such file or directory/],
    [['process', '-o', join(dir, 'x.jsonl'), '--', 'no-such-command-xyz'], /command not found: no-such-command-xyz/],
    [['process', '--pid', '1', '--', 'true'], /either --pid or a command/],
  ];
  for (const [args, re] of cases) {
    const r = memtrace(args, { timeout: 20_000 });
    assert.equal(r.status, 2, `${args.join(' ')}: status ${r.status} ${r.stderr}`);
    assert.equal(r.stdout, '', `${args.join(' ')}: the program did not run`);
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, `stack trace for ${args.join(' ')}`);
  }
});

test('process: a run too short for a trend says so instead of a verdict', () => {
  const log = join(tmp(), 'short.jsonl');
  // ~90 MiB in a run of ~2 samples: a line through 2 points fits (R² 1), and it said "stayed flat".
  const r = memtrace(['process', '--interval', '2s', '-o', log, '--', process.execPath, '-e', 'globalThis.b = Buffer.alloc(90 * 2 ** 20, 1); setTimeout(() => {}, 150)']);
  assert.equal(r.status, 0, r.stderr);
  const samples = readJsonl(log).filter((x) => typeof x.rss === 'number').length;
  assert.ok(samples >= 1 && samples < 6, `${samples} samples`);
  assert.match(r.stderr, /trend +\d samples? over .*: too few for a verdict on the trend \(6 needed\); a shorter --interval gives more/);
  assert.doesNotMatch(r.stderr, /stayed flat|kept growing|levelled off|shrank|slope/);
  const json = JSON.parse(memtrace(['report', log, '--format', 'json']).stdout);
  assert.equal(json.rss.trend, 'too-few-samples');
});

test('process: a program shorter than the interval still gets a sample at its end, with what it built', () => {
  const log = join(tmp(), 'end.jsonl');
  // 60 MiB built after the first sample (~70 ms in), ending long before the second: the one
  // sample taken said 25 MiB and the log had no trace of the 60 MiB.
  const r = memtrace(['process', '--interval', '10s', '-o', log, '--', process.execPath, '-e', 'setTimeout(() => { globalThis.b = Buffer.alloc(60 * 2 ** 20, 1); }, 300)']);
  assert.equal(r.status, 0, r.stderr);
  const records = readJsonl(log).slice(1);
  const exiting = records.find((x) => typeof x.exiting === 'number');
  assert.ok(exiting, 'no exiting record');
  const last = records.filter((x) => typeof x.rss === 'number').at(-1);
  assert.ok(last.t >= exiting.t, `last sample at ${last.t} ms, the program exiting at ${exiting.t} ms`);
  assert.ok(last.rss > 60 * MB, `last sample ${last.rss / MB} MiB`);
  assert.ok(last.arrayBuffers >= 60 * MB, `arrayBuffers ${last.arrayBuffers}`);
});

test('process: the sample at a program\'s exit is its own state, not its teardown', () => {
  // ~35 MB of live JS objects when it exits: a sample read after node began to free its heap
  // had less anonymous memory than the JS heap in use (26 MiB against 35).
  for (let run = 0; run < 3; run++) {
    const log = join(tmp(), `exit-${run}.jsonl`);
    const r = memtrace(['process', '-o', log, '--', process.execPath, '-e', 'const big = []; for (let i = 0; i < 3e5; i++) big.push({ i, s: "x" + i }); globalThis.big = big']);
    assert.equal(r.status, 0, r.stderr);
    const records = readJsonl(log).slice(1);
    const exiting = records.find((x) => typeof x.exiting === 'number');
    const last = records.filter((x) => typeof x.rss === 'number' && x.t <= exiting.t).at(-1);
    assert.ok(last.heapUsed > 25 * MB, `heapUsed ${last.heapUsed / MB} MiB at ${last.t} ms`);
    assert.ok(last.anon >= last.heapUsed, `run ${run}: anonymous ${last.anon / MB} MiB < JS heap used ${last.heapUsed / MB} MiB at ${last.t} ms (exiting at ${exiting.t})`);
  }
});

test('process: the stacked split of the RSS adds up to the RSS, also where V8 has committed more heap than is resident', async () => {
  const log = join(tmp(), 'split.jsonl');
  // V8's heapTotal is committed memory: at this program's end it is ~58 MB against ~50 MB of
  // anonymous resident memory, and the stack read ~95 MiB over an RSS of 86.
  const r = memtrace(['process', '-o', log, '--', process.execPath, '-e', 'const big = []; for (let i = 0; i < 3e5; i++) big.push({ i, s: "x" + i }); globalThis.big = big']);
  assert.equal(r.status, 0, r.stderr);
  const { buildReport } = await import('../dist/tools/process/report.js');
  const { readLog } = await import('../dist/core/log.js');
  const logContents = await readLog(log);
  const chart = buildReport(logContents).sections.find((s) => s.kind === 'chart' && /stacked/.test(s.chart.title)).chart;
  const samples = logContents.records.filter((x) => typeof x.rss === 'number');
  assert.ok(samples.some((x) => x.heapTotal > x.anon), 'no sample with more heap committed than resident: the case is not covered');
  chart.t.forEach((t, i) => {
    const sum = chart.series.reduce((a, s) => a + (s.values[i] ?? 0), 0);
    const rss = samples.find((x) => x.t === t).rss;
    assert.ok(Math.abs(sum - rss) <= 4096, `at ${t} ms the stack reads ${sum / MB} MiB, the RSS is ${rss / MB} MiB`);
  });
});

test('process --detail on another user\'s process: says smaps_rollup cannot be read and why, exit 2', async (t) => {
  // As root, watch a root process as user nobody; as another user, watch PID 1 if it is not ours.
  const asRoot = process.getuid() === 0;
  const setpriv = spawnSync('setpriv', ['--version']).status === 0;
  if (asRoot && !setpriv) return t.skip('needs setpriv (util-linux) to run memtrace as user nobody');
  if (!asRoot && statSync('/proc/1').uid === process.getuid()) return t.skip('PID 1 is ours: no process of another user to watch');
  if (asRoot && spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(cli)})`]).status !== 0) {
    return t.skip(`user nobody cannot read ${cli} (a checkout in a private folder)`);
  }
  const dir = tmp();
  chmodSync(dir, 0o777);
  const target = asRoot ? spawn('sleep', ['30'], { stdio: 'ignore' }) : undefined;
  try {
    const pid = target ? target.pid : 1;
    const argv = [process.execPath, cli, 'process', '--detail', '--pid', String(pid), '-o', join(dir, 'x.jsonl')];
    const run = (args) => (asRoot
      ? spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...args], { encoding: 'utf8', cwd: dir, timeout: 20_000 })
      : spawnSync(args[0], args.slice(1), { encoding: 'utf8', cwd: dir, timeout: 20_000 }));
    const r = run(argv);
    // It said "no samples: the program ended", exit 0, though the process lives.
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, `memtrace: cannot read /proc/${pid}/smaps_rollup for --detail: permission denied (the PSS and USS of another user's process need root or CAP_SYS_PTRACE); without --detail memtrace can sample its RSS\n`);
    assert.deepEqual(readdirSync(dir), [], 'no log left behind');
    // The kernel agrees: the process is there, its smaps_rollup is what is refused.
    const probe = run([process.execPath, '-e', `try { require('fs').readFileSync('/proc/${pid}/smaps_rollup'); console.log('read') } catch (e) { console.log(e.code) }; console.log(require('fs').existsSync('/proc/${pid}/statm'))`]);
    assert.equal(probe.stdout, 'EACCES\ntrue\n');
  } finally {
    target?.kill();
  }
});

test('process: V8 figures are left out, not repeated, while the main thread is busy; the summary says so', async () => {
  const log = join(tmp(), 'busy.jsonl');
  const r = memtrace(['process', '--interval', '50ms', '-o', log, '--', process.execPath, 'test/fixtures/process/busy-heap.js']);
  assert.equal(r.status, 0, r.stderr);
  const records = readJsonl(log).slice(1);
  const samples = records.filter((x) => typeof x.rss === 'number');
  const start = records.find((x) => x.mark === 'busy start').t;
  const end = records.find((x) => x.mark === 'busy end').t;
  // The probe published last before `busy start`: a figure is current for at most 1.5 periods
  // (75 ms) plus timer slack; after that, samples of the busy part have RSS and no V8 figures.
  const busy = samples.filter((s) => s.t > start + 120 && s.t < end);
  assert.ok(busy.length >= 10, `${busy.length} samples while busy`);
  const stale = busy.filter((s) => s.heapUsed !== undefined);
  assert.deepEqual(stale.map((s) => [s.t, s.heapUsed]), [], 'stale V8 figures presented as current');
  // The heap grew by ~100 MiB while busy, and figures are back once the loop turns again.
  const after = samples.filter((s) => s.t > end + 120 && s.heapUsed !== undefined);
  const before = samples.filter((s) => s.t < start && s.heapUsed !== undefined).at(-1);
  assert.ok(after.length > 0, 'no V8 figures after the busy part');
  assert.ok(after[0].heapUsed - before.heapUsed > 80 * MB, `the heap grew by ${(after[0].heapUsed - before.heapUsed) / MB} MiB`);
  // The summary says when V8 figures were unavailable.
  assert.match(r.stderr, /V8 figures missing in \d+ of \d+ samples \(\d+%\), from .* to .*: the main thread was busy/);
  // Charts: the busy samples are a gap in the V8 split, never "other native".
  const { buildReport } = await import('../dist/tools/process/report.js');
  const { readLog } = await import('../dist/core/log.js');
  const report = buildReport(await readLog(log));
  const chart = report.sections.find((s) => s.kind === 'chart' && /stacked/.test(s.chart.title)).chart;
  const series = (label) => chart.series.find((s) => s.label === label).values;
  for (const s of busy) {
    const i = chart.t.indexOf(s.t);
    assert.equal(series('other native')[i], null, `other native at ${s.t}`);
    assert.equal(series('JS heap')[i], null, `JS heap at ${s.t}`);
    assert.equal(series('anonymous, not split (no V8 figures)')[i], s.anon);
  }
});

test('process --children --pid <an ancestor of memtrace>: memtrace does not count itself', async () => {
  const log = join(tmp(), 'anc.jsonl');
  // This test's process is memtrace's parent: watch its tree, with a child of its own in it.
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  const { child, done } = memtraceAsync(['process', '--children', '--pid', String(process.pid), '-i', '20ms', '--no-summary', '-o', log]);
  try {
    await waitForLines(log, 15);
  } finally {
    child.kill('SIGINT');
  }
  const r = await done;
  other.kill();
  assert.equal(r.status, 0, r.stderr);
  const records = readJsonl(log).slice(1);
  const pids = new Set(records.filter((x) => x.procs).flatMap((x) => x.procs.map(([p]) => p)));
  assert.ok(pids.has(other.pid), 'the tree is followed');
  assert.ok(!pids.has(child.pid), `memtrace (${child.pid}) counted itself in ${[...pids]}`);
  assert.ok(!records.some((x) => x.proc === child.pid));
});

test('process at 1 kHz: page faults and CPU through a short run, read when each batch of the helper is taken', { skip: !existsSync(join(root, 'native', 'build', 'memtrace-proc-sampler')) && 'the sampler helper is not built (node native/build.js)' }, () => {
  const log = join(tmp(), 'khz-rates.jsonl');
  // ~600 ms of work: 40 Buffers of 64 KiB touched every 30 ms (page faults and CPU all along).
  const prog = 'const held = []; let k = 0; const t = setInterval(() => { for (let i = 0; i < 40; i++) held.push(Buffer.alloc(65536, i)); if (++k === 20) clearInterval(t); }, 30);';
  const r = memtrace(['process', '-i', '1ms', '--no-summary', '-o', log, '--', process.execPath, '-e', prog]);
  assert.equal(r.status, 0, r.stderr);
  const samples = readJsonl(log).filter((x) => typeof x.rss === 'number');
  assert.ok(samples.some((s) => s.faults > 0 && s.cpu > 0), `no sample with page faults and CPU in ${samples.length}`);
  // The rates move through the run, not once at its end.
  assert.ok(new Set(samples.map((s) => s.faults)).size >= 3, `faults ${[...new Set(samples.map((s) => s.faults))]}`);
});

test('process at 1 kHz: paced by the timerfd helper, samples agree with the kernel, nothing left behind', { skip: !existsSync(join(root, 'native', 'build', 'memtrace-proc-sampler')) && 'the sampler helper is not built (node native/build.js)' }, () => {
  const dir = tmp();
  const scratch = join(dir, 'tmp');
  mkdirSync(scratch);
  const log = join(dir, 'khz.jsonl');
  const r = memtrace(['process', '-i', '1ms', '--no-summary', '-o', log, '--', process.execPath, 'test/fixtures/process/steps.js'], { env: { ...process.env, TMPDIR: scratch } });
  assert.equal(r.status, 0, r.stderr);
  const kernel = JSON.parse(r.stdout);
  const samples = readJsonl(log).filter((x) => typeof x.rss === 'number');
  const gaps = samples.slice(1).map((s, i) => s.t - samples[i].t).sort((a, b) => a - b);
  // Readings at the helper's ticks, 1 ms apart (a late wake on a loaded machine is read when it
  // comes, the next one on time), in time order.
  assert.ok(samples.length > 300, `${samples.length} samples`);
  assert.ok(Math.abs(gaps[gaps.length >> 1] - 1) < 0.2, `median gap ${gaps[gaps.length >> 1]} ms`);
  assert.ok(gaps[0] > 0, `readings out of order (${gaps[0]} ms)`);
  const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
  assert.ok(Math.abs(peak.rss - kernel.after) < 0.05 * kernel.after, `log ${peak.rss} vs kernel ${kernel.after}`);
  assert.ok(peak.anon > 0 && peak.file > 0 && peak.cpu >= 0);
  // The program's event loop turns (it sleeps between steps): nearly every reading has the V8
  // figure published nearest to it, though the helper's batches span 50 ms (a figure comes
  // every 50 ms and is current for 85). The buffers show as array buffers while they are held
  // (not necessarily in the last figures: once the module has finished, a GC before the exit may
  // free them).
  const withV8 = samples.filter((s) => s.heapUsed !== undefined);
  assert.ok(withV8.length > 0.9 * samples.length, `V8 figures in ${withV8.length} of ${samples.length} samples`);
  const mostBuffers = Math.max(...withV8.map((s) => s.arrayBuffers));
  assert.ok(mostBuffers >= 200 * MB, `array buffers at most ${mostBuffers}`);
  // The helper's FIFO and the helper itself are gone.
  assert.deepEqual(readdirSync(scratch), []);
  assert.equal(spawnSync('pgrep', ['-f', `memtrace-proc-sampler run \\d+ 1000 ${scratch}`]).status, 1, 'a helper still runs');
});

test('process: the probe gives a CommonJS program no node module it did not load (worker_threads and the stream stack, perf_hooks) and sees its V8 figures', { skip: !existsSync(join(root, 'native', 'build', 'memtrace-runtime.node')) && 'without the runtime addon the probe is an --import with its ESM loader' }, () => {
  const dir = tmp();
  const prog = join(dir, 'mods.cjs');
  writeFileSync(prog, 'setTimeout(() => require("fs").writeFileSync(process.argv[2], JSON.stringify(process.moduleLoadList)), 300);\n');
  const untraced = spawnSync(process.execPath, [prog, join(dir, 'untraced.json')], { encoding: 'utf8' });
  assert.equal(untraced.status, 0, untraced.stderr);
  const log = join(dir, 'mods.jsonl');
  const r = memtrace(['process', '--interval', '50ms', '-o', log, '--', process.execPath, prog, join(dir, 'traced.json')]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(readJsonl(log).some((x) => typeof x.heapUsed === 'number'), 'the probe sent V8 figures');
  const before = new Set(JSON.parse(readFileSync(join(dir, 'untraced.json'), 'utf8')));
  const added = JSON.parse(readFileSync(join(dir, 'traced.json'), 'utf8')).filter((m) => !before.has(m));
  for (const m of ['NativeModule worker_threads', 'NativeModule stream', 'NativeModule perf_hooks', 'NativeModule net']) assert.ok(!added.includes(m), `${m} loaded by memtrace: ${added.join(', ')}`);
});
