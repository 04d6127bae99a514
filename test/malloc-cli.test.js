// memtrace malloc on real programs: a C fixture with known allocations, python3 and node runs
// compared with a peer (heaptrack when installed, else glibc's mtrace), and bad input.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { traceMalloc, interposerPath, readMallocLog } from '../dist/index.js';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli.js');
const fixtures = join(root, 'test', 'fixtures', 'malloc');
const work = mkdtempSync(join(tmpdir(), 'memtrace-malloc-test-'));
const MALLOC_DEBUG = '/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0';

function run(args, opts = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: work, encoding: 'utf8', timeout: 120_000, ...opts });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}
function report(file) {
  const r = run(['report', file, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}
function cc(name, out, extra = []) {
  execFileSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-fno-inline', ...extra, '-o', join(work, out), join(fixtures, name)]);
  return join(work, out);
}
const fn = (s, op) => s.functions.find((f) => f.op === op) ?? { calls: 0, bytes: 0 };
const python = () => execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
const haveHeaptrack = spawnSync('heaptrack_print', ['--version'], { stdio: 'ignore' }).status === 0;

/** Counts of glibc's mtrace on the same program: allocations ('+', and '<'/'>' pairs) and frees ('-'). */
function mtraceCounts(cmd, env = {}) {
  const on = join(work, 'mtrace-on.so');
  if (!existsSync(on)) execFileSync('gcc', ['-shared', '-fPIC', '-o', on, join(fixtures, 'mtrace-on.c')]);
  const log = join(work, `mtrace-${Date.now()}.txt`);
  const r = spawnSync(cmd[0], cmd.slice(1), { env: { ...process.env, ...env, MALLOC_TRACE: log, LD_PRELOAD: `${MALLOC_DEBUG}:${on}` }, stdio: 'ignore' });
  assert.equal(r.status, 0);
  let allocations = 0, frees = 0;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const kind = line.split(' ')[2];
    if (kind === '+' || kind === '>') allocations++;
    else if (kind === '-') frees++;
  }
  return { allocations, frees };
}

/** Allocation calls of heaptrack on the same program. */
function heaptrackCalls(cmd) {
  const out = join(work, `ht-${Date.now()}`);
  spawnSync('heaptrack', ['-o', out, ...cmd], { stdio: 'ignore' });
  const file = readdirSync(work).map((f) => join(work, f)).find((f) => f.startsWith(out));
  const text = execFileSync('heaptrack_print', ['-f', file, '--print-peaks', '0', '--print-allocators', '0', '--print-temporary', '0', '--print-leaks', '0'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return Number(/calls to allocation functions: (\d+)/.exec(text)[1]);
}

const within = (a, b, pct) => Math.abs(a - b) <= (Math.max(a, b) * pct) / 100;

before(() => {
  assert.ok(existsSync(interposerPath()), `the interposer is built by npm install (${interposerPath()})`);
});

test('a C program with known allocations: exact counts, bytes, peak and unfreed blocks by call site', () => {
  const exe = cc('known.c', 'known');
  const r = run(['malloc', '--stacks', '-o', 'known.bin', '--', exe]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ok\n', 'the program output passes through untouched');
  const s = report('known.bin');
  assert.equal(fn(s, 'malloc').calls, 61);
  assert.equal(fn(s, 'malloc').bytes, 10 * 100 + 50 * 64 + 10);
  assert.equal(fn(s, 'calloc').calls, 2);
  assert.equal(fn(s, 'calloc').bytes, 8000);
  assert.equal(fn(s, 'realloc').calls, 1);
  assert.equal(fn(s, 'realloc').bytes, 5000);
  assert.equal(fn(s, 'posix_memalign').calls, 1);
  assert.equal(fn(s, 'posix_memalign').bytes, 256);
  assert.equal(fn(s, 'free').calls, 52);
  assert.equal(fn(s, 'free(NULL)').calls, 1);
  assert.equal(s.allocations, 65);
  assert.equal(s.bytesAllocated, 4210 + 8000 + 5000 + 256);
  assert.equal(s.peakBytes, 14000, 'kept 9000 B + the 5000 B realloc');
  assert.equal(s.liveAtExitBytes, 9000);
  assert.equal(s.liveAtExitCount, 12);
  assert.equal(s.endedBy, 'exit');
  const unfreed = s.unfreedBySite.map((u) => [u.frames[0], u.liveBytes, u.liveCount]);
  assert.deepEqual(unfreed, [['keep_big (known)', 8000, 2], ['keep_small (known)', 1000, 10]]);
  assert.equal(s.unfreedBySite[0].frames[1], 'main (known)');
  const churn = s.topSitesByCount[0];
  assert.equal(churn.frames[0], 'churn (known)');
  assert.equal(churn.calls, 50);
  assert.match(r.stderr, /still live at exit, by call site\n +7\.81 KiB in 2 +keep_big \(known\) → main \(known\)/);
});

test('counting mode and --min-size keep exact totals', () => {
  const exe = join(work, 'known');
  const c = run(['malloc', '--count-only', '-o', 'count.bin', '--', exe]);
  assert.equal(c.code, 0, c.stderr);
  const s = report('count.bin');
  assert.equal(s.mode, 'count');
  assert.equal(fn(s, 'malloc').calls, 61);
  assert.equal(fn(s, 'free').calls, 52);
  const m = run(['malloc', '--min-size', '1000', '-o', 'min.bin', '--', exe]);
  assert.equal(m.code, 0, m.stderr);
  const t = report('min.bin');
  assert.equal(fn(t, 'malloc').calls, 61, 'totals count every call');
  assert.equal(t.liveAtExitBytes, 8000, 'only blocks of 1000 B and more are tracked');
  assert.equal(t.peakBytes, 13000);
});

test('--aggregate: no events written, the same counts, peak and live blocks by call site as the event trace', () => {
  const exe = join(work, 'known');
  const r = run(['malloc', '--stacks', '--aggregate', '-o', 'known-agg.bin', '--', exe]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ok\n');
  assert.match(r.stderr, /stacks mode, aggregated\)/);
  const a = report('known-agg.bin'), e = report('known.bin');
  assert.equal(a.aggregated, true);
  assert.equal(a.events, 0);
  for (const k of ['allocations', 'frees', 'freeNull', 'bytesAllocated', 'peakBytes', 'liveAtExitBytes', 'liveAtExitCount']) assert.equal(a[k], e[k], k);
  assert.deepEqual(a.functions, e.functions);
  const sites = (s) => s.topSitesByBytes.map((x) => [x.frames[0], x.calls, x.bytes, x.liveBytes, x.liveCount]);
  assert.deepEqual(sites(a), sites(e));
  // live by site at the peak: the 9000 B kept and the 5000 B realloc'd block, on their sites
  assert.deepEqual(a.livePeakBySite.map((x) => [x.frames[0], x.peakBytes]).sort(), [['keep_big (known)', 8000], ['keep_small (known)', 1000], ['main (known)', 5000]]);
  // refused: a window (no events to cut) and --count-only beside it, one line, exit 2
  for (const args of [['--aggregate', '--since', '1ms'], ['--aggregate', '--count-only']]) {
    const bad = run(['malloc', ...args, '-o', 'bad-agg.bin', '--', exe]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  }
  const late = run(['report', 'known-agg.bin', '--since', '1ms']);
  assert.equal(late.code, 2);
  assert.match(late.stderr, /recorded with --aggregate, it keeps no events/);
});

test('--aggregate: a counter changed in an aggregate chunk is refused in one line, exit 2', () => {
  const good = readFileSync(join(work, 'known-agg.bin'));
  const aggs = [];
  for (let at = 16; at + 8 <= good.length; at += 8 + good.readUInt32LE(at + 4)) if (good.readUInt32LE(at) === 9) aggs.push(at + 8);
  assert.ok(aggs.length > 0, 'an AGG chunk');
  const body = aggs.at(-1);
  // the calls of the first row, and the live bytes of the header: each alone is a plausible figure
  for (const offset of [72 + 8, 16]) {
    const b = Buffer.from(good);
    b[body + offset] ^= 0x01;
    writeFileSync(join(work, 'bad-agg.bin'), b);
    const r = run(['report', 'bad-agg.bin', '--format', 'json']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^memtrace: bad-agg\.bin is corrupt: its counters do not match their checksum \(chunk at byte \d+\); it was not written this way by memtrace malloc\n$/);
  }
});

test('--aggregate on 4 threads freeing each other\'s blocks: exact per site, a trace of kilobytes', () => {
  const exe = cc('threads.c', 'threads', ['-pthread']);
  const rec = run(['malloc', '--stacks', '-o', 'threads.bin', '--', exe]);
  const agg = run(['malloc', '--stacks', '--aggregate', '-o', 'threads-agg.bin', '--', exe]);
  assert.equal(rec.code, 0, rec.stderr);
  assert.equal(agg.code, 0, agg.stderr);
  const a = report('threads-agg.bin'), e = report('threads.bin');
  const bySite = (s) => Object.fromEntries(s.topSitesByBytes.filter((x) => /^alloc_[ab] /.test(x.frames[0])).map((x) => [x.frames[0], [x.calls, x.bytes, x.liveBytes, x.liveCount]]));
  assert.deepEqual(bySite(a), { 'alloc_a (threads)': [80000, 80000 * 48, 0, 0], 'alloc_b (threads)': [40000, 40000 * 1000, 20000 * 1000, 20000] });
  assert.deepEqual(bySite(a), bySite(e));
  // every block of alloc_a lives until the barrier: the peak is exact, the copy by site within 1/32 of it
  assert.equal(a.peakBytes, e.peakBytes);
  const atPeak = Object.fromEntries(a.livePeakBySite.map((x) => [x.frames[0], x.peakBytes]));
  assert.ok(atPeak['alloc_a (threads)'] + atPeak['alloc_b (threads)'] >= a.peakBytes * (1 - 1 / 32) - 4096, JSON.stringify(atPeak));
  const sizes = [statSync(join(work, 'threads.bin')).size, statSync(join(work, 'threads-agg.bin')).size];
  assert.ok(sizes[1] < 64 * 1024 && sizes[1] * 20 < sizes[0], `trace ${sizes[1]} B aggregated, ${sizes[0]} B of events`);
});

test('node --stacks --aggregate: the JS view puts the allocating function first with its live Buffers', () => {
  const prog = join(fixtures, 'buffers-known.mjs');
  const r = run(['malloc', '--stacks', '--aggregate', '-o', 'js-agg.bin', '--', process.execPath, prog], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1500\n');
  const s = report('js-agg.bin');
  const first = s.unfreedBySite[0];
  assert.match(first.label, /^makeBuffers \(.*buffers-known\.mjs:6\)$/);
  const pct = Number(process.versions.node.split('.')[0]) >= 22 ? 50 : 1; // see the JS view test above
  const buffers = first.native.filter((n) => n.frame.startsWith('node::NodeArrayBufferAllocator::')).reduce((a, n) => a + n.liveCount, 0);
  assert.ok(buffers <= 1500 && within(buffers, 1500, pct), `live Buffers ${buffers}`);
  assert.ok(s.startup.calls > 1000, 'start-up apart');
  assert.equal(s.livePeakBySite[0].label, first.label);
  // memtrace's own code in the program (its marks, called by the user's code) is charged to its caller
  assert.equal(s.topSitesByBytes[0].label, first.label);
  assert.ok(s.topSitesByBytes.every((x) => !/^epochNow /.test(x.label)), s.topSitesByBytes.map((x) => x.label).join('\n'));
});

test('python3: traced without crashing, counts within 1% of glibc mtrace on the same program', () => {
  const py = python();
  const env = { ...process.env, PYTHONHASHSEED: '0' };
  const r = run(['malloc', '-o', 'py.bin', '--', py, join(fixtures, 'churn.py')], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '13333\n');
  const s = report('py.bin');
  const peer = mtraceCounts([py, join(fixtures, 'churn.py')], { PYTHONHASHSEED: '0' });
  assert.ok(within(s.allocations, peer.allocations, 1), `allocations: memtrace ${s.allocations}, mtrace ${peer.allocations}`);
  const ours = s.allocations + fn(s, 'free').calls;
  assert.ok(within(ours, peer.allocations + peer.frees, 1), `calls: memtrace ${ours}, mtrace ${peer.allocations + peer.frees}`);
  assert.ok(s.peakBytes > 1e6 && s.peakBytes < 50e6, `peak ${s.peakBytes}`);
});

test('node --stacks: traced without crashing, JS frames named, counts within 1% of a peer', () => {
  const prog = join(fixtures, 'buffers.js');
  const r = run(['malloc', '--stacks', '-o', 'node.bin', '--', process.execPath, prog, '40'], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'records 500\n');
  const s = report('node.bin');
  assert.ok(s.allocations > 40 * 500, `allocations ${s.allocations}`);
  const frames = s.topSitesByBytes.flatMap((site) => site.frames).join('\n');
  assert.match(frames, /parseRecords \(.*buffers\.js:\d+\)/, 'a JIT frame named from the perf map');
  assert.match(frames, /node::NodeArrayBufferAllocator::Allocate|v8::internal::/, 'native frames named from the symbol table');
  assert.equal(readdirSync('/tmp').filter((f) => f === `perf-${s.pid}.map`).length, 0, 'no perf map at the predictable /tmp name');
  // the peer traces a run of its own: compare totals of the same program, long enough for
  // node's own run-to-run variation (GC, compiler threads) to stay well under 1%
  const plain = run(['malloc', '-o', 'node-plain.bin', '--', process.execPath, prog, '200'], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(plain.code, 0, plain.stderr);
  const p = report('node-plain.bin');
  const ours = p.allocations;
  const peer = haveHeaptrack ? heaptrackCalls([process.execPath, prog, '200']) : mtraceCounts([process.execPath, prog, '200']).allocations;
  assert.ok(within(ours, peer, 1), `allocations: memtrace ${ours}, ${haveHeaptrack ? 'heaptrack' : 'mtrace'} ${peer}`);
});

test('node --stacks: the JS view puts the allocating function first with its exact Buffers, start-up apart', () => {
  const prog = join(fixtures, 'buffers-known.mjs');
  const r = run(['malloc', '--stacks', '-o', 'js.bin', '--', process.execPath, prog], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1500\n');
  const s = report('js.bin');
  assert.equal(s.by, 'js');
  const first = s.topSitesByBytes[0];
  assert.match(first.label, /^makeBuffers \(.*buffers-known\.mjs:6\)$/, 'the function, at its line');
  const bytes = 1500 * 65536;
  // one allocation per Buffer, below the function (±1%: a frame walk cut short by a frame
  // without a frame pointer charges an event elsewhere, rarely)
  const buffers = first.native.filter((n) => n.frame.startsWith('node::NodeArrayBufferAllocator::'));
  const sum = (k) => buffers.reduce((a, n) => a + n[k], 0);
  // node ≥ 22 (V8 ≥ 12) reuses code space for optimized code and the basic perf map logs no
  // code deaths: a part of the calls from optimized code reads a stale name (a known limit,
  // ARCHITECTURE.md). Node 20 names them all.
  // Node 20 names them all; node 24 charged 904 to 1201 of 1500 in runs here: at least half.
  const pct = Number(process.versions.node.split('.')[0]) >= 22 ? 50 : 1;
  assert.ok(sum('calls') <= 1500 && within(sum('calls'), 1500, pct), `Buffers ${sum('calls')}`);
  assert.ok(sum('liveCount') <= 1500 && within(sum('liveCount'), 1500, pct), `live Buffers ${sum('liveCount')}`);
  if (pct === 1) {
    assert.ok(within(first.bytes, bytes, 1), `bytes ${first.bytes} vs ${bytes}`);
    assert.ok(within(first.liveBytes, bytes, 1), `still live when the program began to exit: ${first.liveBytes}`);
  }
  assert.equal(s.unfreedBySite[0].label, first.label);
  // start-up (node's bootstrap, OpenSSL, the snapshot) is summed apart, out of the tables
  assert.ok(s.startup.calls > 1000 && s.startup.endMs > 0, `start-up ${JSON.stringify(s.startup)}`);
  assert.ok(s.topSitesByBytes.every((x) => !x.startup));
  assert.match(r.stderr, /start-up \(before the main module ran\): [\d,]+ allocations, .* \(left out of the tables below\)/);
  assert.match(r.stderr, /top JS functions by bytes\n +[\d.]+ MiB in [\d,]+, [\d.]+ MiB live  makeBuffers \(.*buffers-known\.mjs:6\)\n +[\d.]+ MiB in +[\d,]+  node::NodeArrayBufferAllocator::/);
  // the native view and the whole stacks are still there
  const n = run(['malloc', '--stacks', '--by', 'native', '-o', 'js-native.bin', '--', process.execPath, prog], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(n.code, 0, n.stderr);
  assert.match(n.stderr, /top native functions by bytes\n +[\d.]+ MiB in [\d,]+  node::NodeArrayBufferAllocator::/);
  const withStartup = run(['malloc', '--stacks', '--startup', '-o', 'js-startup.bin', '--', process.execPath, prog], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.match(withStartup.stderr, /\[start-up\] /);
  // the saved trace reported with --startup: what was printed at exit, line for line
  const printed = withStartup.stderr.slice(withStartup.stderr.indexOf('memtrace malloc:'), withStartup.stderr.indexOf('\nmemtrace: trace written'));
  assert.equal(run(['report', 'js-startup.bin', '--startup', '--top', '10']).stdout.trim(), printed.trim());
});

test('node --stacks on tsc output: JS frames named at their .ts line through the source map beside the .js', () => {
  const prog = join(fixtures, 'tsc', 'buffers.js');
  const r = run(['malloc', '--stacks', '-o', 'tsc.bin', '--', process.execPath, prog], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1000\n');
  const first = report('tsc.bin').topSitesByBytes[0];
  // makeBuffers starts on line 2 of buffers.js and on line 5 of buffers.ts.
  assert.match(first.label, /^makeBuffers \(.*tsc\/buffers\.ts:5\)$/);
  assert.ok(first.bytes >= 0.5 * 1000 * 65536, `bytes ${first.bytes}`);
});

test('--since/--until MARK: allocated in the window and still live at its end', () => {
  const prog = join(fixtures, 'buffers-known.mjs');
  const r = run(['malloc', '--stacks', '--since', 'start', '--until', 'end', '-o', 'win.bin', '--', process.execPath, prog], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /still live allocated from mark 'start' to mark 'end', still live then, by JS function\n +[\d.]+ MiB in [\d,]+  makeBuffers/);
  const a = readMallocLog(join(work, 'win.bin'), { since: 'start', until: 'end' });
  // the window does not depend on frame names: every 64 KiB block of node's ArrayBuffer allocator
  const live = (x) => x.sites.filter((t) => t.frames[0].startsWith('node::NodeArrayBufferAllocator::') && !t.startup && t.bytes >= 65536 * t.calls).reduce((k, t) => k + t.liveCount, 0);
  const near = (got, want, what) => assert.ok(within(got, want, 1), `${what}: ${got} of ${want}`);
  near(live(a), 1000, 'the Buffers made between the marks');
  near(live(readMallocLog(join(work, 'win.bin'), { since: 'start' })), 1300, 'from start to the exit');
  near(live(readMallocLog(join(work, 'win.bin'), { until: 'end' })), 1200, 'from the start to end');
  assert.deepEqual(a.marks.map((m) => m.label), ['memtrace:main', 'start', 'end', 'memtrace:exit']);
  // elapsed time works for any program; an unknown mark is one line
  const t = run(['malloc', '--since', '0ms', '--until', '10h', '-o', 'win2.bin', '--', join(work, 'known')]);
  assert.equal(t.code, 0, t.stderr);
  const bad = run(['malloc', '--since', 'nope', '-o', 'win3.bin', '--', process.execPath, prog], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.match(bad.stderr, /memtrace: warning: --since: no mark 'nope' in .*win3\.bin \(its marks: start, end\)/);
  assert.equal(bad.code, 0, 'the program ran: its exit status stands');
});

test('memtrace report on a saved trace answers what memtrace malloc printed: --by, --since/--until, --startup', () => {
  const prog = join(fixtures, 'buffers-known.mjs');
  const view = ['--by', 'js', '--since', 'start', '--until', 'end', '--top', '10'];
  const r = run(['malloc', '--stacks', ...view, '-o', 'saved.bin', '--', process.execPath, prog], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.code, 0, r.stderr);
  const printed = r.stderr.slice(r.stderr.indexOf('memtrace malloc:'), r.stderr.indexOf('\nmemtrace: trace written'));
  const t = run(['report', 'saved.bin', ...view]);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stdout.trim(), printed.trim(), 'the same summary, figure for figure');
  // the figures, read from what memtrace malloc printed and from the report's JSON
  const m = /still live allocated from mark 'start' to mark 'end', still live then, by JS function\n +([\d.]+) MiB in ([\d,]+)  makeBuffers .*\n +([\d.]+) MiB in +([\d,]+)  node::NodeArrayBufferAllocator::/.exec(r.stderr);
  assert.ok(m, r.stderr);
  const j = run(['report', 'saved.bin', ...view, '--format', 'json']);
  assert.equal(j.code, 0, j.stderr);
  const s = JSON.parse(j.stdout);
  const first = s.unfreedBySite[0];
  assert.match(first.label, /^makeBuffers /);
  assert.equal(first.liveCount, Number(m[2].replace(/,/g, '')));
  assert.equal((first.liveBytes / 2 ** 20).toFixed(1), m[1]);
  const buffers = first.native.find((n) => n.frame.startsWith('node::NodeArrayBufferAllocator::'));
  assert.equal(buffers.liveCount, Number(m[4].replace(/,/g, '')));
  assert.ok(buffers.liveCount <= 1000 && buffers.liveCount >= 500, `Buffers made between the marks: ${buffers.liveCount}`);
  assert.deepEqual([s.by, s.liveWindow.since, s.liveWindow.until], ['js', 'start', 'end']);
  // the window against the whole run, by the native function (frame names of JIT code can be
  // stale on node ≥ 22, the native allocator's are not): 1000 Buffers made between the marks, 1500 in all
  const arrayBuffers = (args) => JSON.parse(run(['report', 'saved.bin', '--by', 'native', '--format', 'json', ...args]).stdout)
    .unfreedBySite.filter((x) => x.label.startsWith('node::NodeArrayBufferAllocator::')).reduce((a, x) => a + x.liveCount, 0);
  const near = (got, want, what) => assert.ok(within(got, want, 1), `${what}: ${got} of ${want}`);
  near(arrayBuffers(['--since', 'start', '--until', 'end']), 1000, 'between the marks');
  near(arrayBuffers(['--since', 'start']), 1300, 'from the mark start to the exit');
  near(arrayBuffers([]), 1500, 'the whole run');

  // --startup: start-up's call sites join the tables, tagged; every format says the same
  const csv = (args) => run(['report', 'saved.bin', '--format', 'csv', '-o', '-', ...args]).stdout.trim().split('\n').slice(1);
  const bytesOf = (rows) => rows.reduce((a, l) => a + Number(/,(\d+),\d+,\d+$/.exec(l)[1]), 0);
  const without = csv([]), withStartup = csv(['--startup']);
  assert.ok(without.every((l) => !l.startsWith('[start-up]')));
  const startupRows = withStartup.filter((l) => /^"?\[start-up\]/.test(l));
  assert.ok(startupRows.length > 10, 'start-up rows in the CSV');
  assert.equal(bytesOf(startupRows), s.startup.bytes, 'the start-up rows add up to the start-up line');
  assert.equal(bytesOf(withStartup) - bytesOf(startupRows), bytesOf(without));
  const st = run(['report', 'saved.bin', '--startup']);
  assert.match(st.stdout, /start-up \(before the main module ran\): [\d,]+ allocations, [\d.]+ MiB; still live when the program began to exit: .*\n/);
  assert.doesNotMatch(st.stdout, /left out of the tables below/);
  assert.match(st.stdout, /top JS functions by bytes\n(.*\n)*? +[\d.]+ [KM]iB in [\d,]+, .* live  \[start-up\] /);
  assert.equal(JSON.parse(run(['report', 'saved.bin', '--startup', '--format', 'json']).stdout).startup.inTables, true);
  // speedscope: the whole stacks, weighted by what the CSV rows of the same view add up to
  const live = (rows) => rows.reduce((a, l) => a + Number(/,(\d+),\d+$/.exec(l)[1]), 0);
  const windowRows = csv(['--since', 'start', '--until', 'end']);
  assert.equal(run(['report', 'saved.bin', '--since', 'start', '--until', 'end', '--format', 'speedscope', '-o', 'saved.speedscope.json']).code, 0);
  const ss = JSON.parse(readFileSync(join(work, 'saved.speedscope.json'), 'utf8'));
  assert.deepEqual(ss.profiles.map((p) => p.name), ["still live allocated from mark 'start' to mark 'end', still live then", 'allocated']);
  assert.equal(ss.profiles[0].endValue, live(windowRows));
  assert.equal(ss.profiles[1].endValue, bytesOf(windowRows));
  for (const p of ss.profiles) {
    assert.equal(p.samples.length, p.weights.length);
    assert.ok(p.samples.every((st) => st.every((f) => f < ss.shared.frames.length)));
  }
  assert.equal(run(['report', 'saved.bin', '--startup', '--format', 'speedscope', '-o', 'startup.speedscope.json']).code, 0);
  const withStartupSs = JSON.parse(readFileSync(join(work, 'startup.speedscope.json'), 'utf8'));
  assert.equal(withStartupSs.profiles[1].endValue, bytesOf(withStartup), 'start-up in the flame graph with --startup');
  assert.equal(run(['report', 'min.bin', '--format', 'speedscope', '-o', '-']).code, 2, 'no stacks, no speedscope');
  // html and gnuplot show the window
  assert.equal(run(['report', 'saved.bin', ...view, '--format', 'html', '-o', 'saved.html']).code, 0);
  assert.match(readFileSync(join(work, 'saved.html'), 'utf8'), /Still live allocated from mark (&#39;|&#x27;|')start\1 to mark \1end\1, still live then, by JS function/);
  assert.equal(run(['report', 'saved.bin', '--since', '10ms', '--until', '20ms', '--format', 'gnuplot', '-o', 'saved.dat']).code, 0);
  assert.match(readFileSync(join(work, 'saved.plt'), 'utf8'), /set label \d+ "--since 10\.0 ms" at 0\.0100,(.*\n)*set label \d+ "--until 20\.0 ms" at 0\.0200,/);
});

test('the view options refused: an unknown mark, a bad time, no stacks, no events; one line, exit 2', () => {
  const cases = [
    [['report', 'saved.bin', '--since', 'nope'], /^memtrace: --since: no mark 'nope' in saved\.bin \(its marks: start, end\)$/],
    [['report', 'saved.bin', '--since', 'end', '--until', 'start'], /^memtrace: --until: mark 'start' is before --since in saved\.bin$/],
    [['report', 'saved.bin', '--since', '10h'], /^memtrace: --since: .* is after the end of saved\.bin \(.*\)$/],
    [['report', 'saved.bin', '--since', '2s', '--until', '1s'], /^memtrace: --until is before --since$/],
    [['report', 'saved.bin', '--by', 'line'], /^memtrace: option '--by <view>' argument 'line' is invalid\. Allowed choices are js, native, stack\./],
    [['report', 'min.bin', '--by', 'js'], /^memtrace: --by js: min\.bin was recorded without --stacks, it has no stacks \(call sites\)$/],
    [['report', 'min.bin', '--startup'], /^memtrace: --startup: min\.bin was recorded without --stacks/],
    [['report', 'count.bin', '--since', '1ms'], /^memtrace: --since: count\.bin was recorded with --count-only, it has no events, only totals$/],
    [['malloc', '--by', 'js', '-o', 'refused.bin', '--', join(work, 'known')], /^memtrace: --by js needs --stacks$/],
    [['malloc', '--count-only', '--until', '1s', '-o', 'refused.bin', '--', join(work, 'known')], /^memtrace: --until needs events \(not --count-only\)$/],
    [['malloc', '--since', '2s', '--until', '1s', '-o', 'refused.bin', '--', join(work, 'known')], /^memtrace: --until is before --since$/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '', 'the program did not run');
  }
  assert.ok(!existsSync(join(work, 'refused.bin')), 'refused before the run');
  // a window in time works on a trace without stacks: its total (the 2 blocks of 4000 B kept)
  const w = run(['report', 'min.bin', '--since', '0ms', '--until', '10h']);
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stdout, /\n  allocated from 0\.0 ms to 36000000\.0 ms, still live then: 7\.81 KiB in 2 blocks\n/);
  const wj = JSON.parse(run(['report', 'min.bin', '--since', '0ms', '--until', '10h', '--format', 'json']).stdout);
  assert.deepEqual([wj.liveWindow.liveBytes, wj.liveWindow.liveCount], [8000, 2]);
  // --by js on the stacks of a C program: whole stacks, said in a warning
  const c = run(['report', 'known.bin', '--by', 'js']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /^memtrace: warning: --by js: no stack of this trace reaches a JS function/);
  assert.match(c.stdout, /still live at exit, by call site\n +7\.81 KiB in 2  keep_big \(known\)/);
});

test('perf-map names: node JIT and interpreted frames, CPython -X perf frames', async () => {
  const { jsFrameName } = await import('../dist/tools/malloc/symbols.js');
  assert.equal(jsFrameName('JS:~makeBuffers /app/src/a.js:6:21', '/app'), 'makeBuffers (src/a.js:6)');
  assert.equal(jsFrameName('JS:*parse file:///app/src/p.js:10:3', '/app'), 'parse (src/p.js:10)');
  assert.equal(jsFrameName('py::make_blocks:/app/job.py', '/app'), 'make_blocks (job.py)');
  assert.equal(jsFrameName('py:::/app/job.py', '/app'), '(module) (job.py)');
});

test('the library API returns the analysis and the report', async () => {
  const exe = join(work, 'known');
  const result = await traceMalloc([exe], { output: join(work, 'api.bin'), env: { ...process.env } });
  assert.equal(result.exit.exitCode, 0);
  assert.equal(result.analysis.header.allocations, 65);
  assert.match(result.report.text, /allocations 65 /);
  assert.equal(result.others.length, 0);
});

test('the trace folded while the program writes it gives the analysis of the finished file', async () => {
  // ~0.4 s of allocations on the main thread and frees on V8's: many polls fold chunks mid-run,
  // among them cross-thread frees read before their allocation.
  const prog = join(work, 'streamed.js');
  writeFileSync(prog, 'const m = new Map();\nfor (let i = 0; i < 200000; i++) { m.set("k" + i, { i, a: new Float64Array(16) }); if (m.size > 5000) m.clear(); }\n');
  for (const stacks of [false, true]) {
    const output = join(work, `streamed-${stacks}.bin`);
    const result = await traceMalloc([process.execPath, prog], { output, stacks, env: { ...process.env } });
    assert.equal(result.exit.exitCode, 0);
    const streamed = result.analysis, read = readMallocLog(output);
    assert.ok(streamed.header.events > 100000, `events ${streamed.header.events}`);
    assert.deepEqual(streamed.header, read.header);
    assert.deepEqual(streamed.functions, read.functions);
    assert.deepEqual(streamed.timeline, read.timeline);
    assert.deepEqual(streamed.marks, read.marks);
    const bySite = (a) => new Map(a.sites.map((x) => [`${x.startup}|${x.frames.join('|')}`, x]));
    assert.deepEqual(bySite(streamed), bySite(read));
  }
});

test('a child forked while another thread writes the trace starts its own (the write lock is not left held in it)', () => {
  // Before: the child spun forever on the lock the flushing thread held at fork (3 runs of 3
  // hung within 30 forks); the fixture exits 3 when a child does not end within 5 s.
  const exe = cc('fork-flush.c', 'fork-flush', ['-pthread']);
  const r = run(['malloc', '-o', 'fork-flush.bin', '--', exe]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readdirSync(work).filter((f) => /^fork-flush\.bin\.\d+$/.test(f)).length, 200);
});

test('forked and exec\'d children write their own files unless --no-follow', () => {
  const script = 'import os, subprocess\nsubprocess.run(["/bin/true"])\npid = os.fork()\nif pid == 0:\n    x = [bytes(5000) for _ in range(10)]\n    os._exit(0)\nos.waitpid(pid, 0)\n';
  writeFileSync(join(work, 'kids.py'), script);
  const py = python();
  const r = run(['malloc', '-o', 'kids.bin', '--', py, 'kids.py']);
  assert.equal(r.code, 0, r.stderr);
  const kids = readdirSync(work).filter((f) => /^kids\.bin\.\d+$/.test(f));
  assert.ok(kids.length >= 2, `child files: ${kids}`);
  assert.match(r.stderr, /other processes traced \(\d+\)/);
  const n = run(['malloc', '--no-follow', '-o', 'nokids.bin', '--', py, 'kids.py']);
  assert.equal(n.code, 0, n.stderr);
  assert.deepEqual(readdirSync(work).filter((f) => /^nokids\.bin\.\d+$/.test(f)), []);
});

test('bad input: static binary, missing command, unwritable output', () => {
  writeFileSync(join(work, 'static.c'), 'int main(void) { return 0; }\n');
  execFileSync('gcc', ['-static', '-o', join(work, 'static'), join(work, 'static.c')]);
  const st = run(['malloc', '--', './static']);
  assert.equal(st.code, 2);
  assert.equal(st.stderr, 'memtrace: ./static is statically linked: LD_PRELOAD cannot reach its malloc, so there is nothing to trace\n');
  const nf = run(['malloc', '--', 'no-such-command-xyz']);
  assert.equal(nf.code, 2);
  assert.equal(nf.stderr, 'memtrace: command not found: no-such-command-xyz\n');
  const uw = run(['malloc', '-o', '/proc/nope/t.bin', '--', 'true']);
  assert.equal(uw.code, 2);
  assert.match(uw.stderr, /^memtrace: cannot write trace \/proc\/nope\/t\.bin: .+\n$/);
  const ms = run(['malloc', '--min-size', 'lots', '--', 'true']);
  assert.equal(ms.code, 2);
  assert.match(ms.stderr, /^memtrace: --min-size: 'lots' is not a size/);
});

test('a program killed by SIGKILL: the trace is valid up to its last flushed buffer', () => {
  const exe = cc('churn.c', 'churn');
  const r = run(['malloc', '-o', 'killed.bin', '--', exe, '300000', 'kill']);
  assert.equal(r.code, 128 + 9);
  assert.match(r.stderr, /warning: the program ended without exit/);
  const s = report('killed.bin');
  assert.equal(s.endedBy, 'no-exit');
  assert.ok(s.allocations > 100000 && s.allocations <= 300000, `allocations ${s.allocations}`);
  assert.ok(s.allocations - fn(s, 'free').calls <= 1, 'every flushed malloc has its free, but maybe the last');
});

test('a full disk: the program keeps running, the trace says where it stopped', (t) => {
  const dir = join(work, 'full');
  mkdirSync(dir);
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'ignore' }).status !== 0) {
    t.skip('cannot mount a small tmpfs here (not root)');
    return;
  }
  try {
    const exe = join(work, 'churn');
    const r = run(['malloc', '-o', join(dir, 't.bin'), '--', exe, '400000']);
    assert.equal(r.code, 3, 'the program ran to its end with its own exit code');
    assert.equal(r.stdout, 'done\n');
    assert.match(r.stderr, /warning: the trace stopped at [\d.]+ ms: writing it failed \(ENOSPC\); the program (ran on|kept running untraced)/);
    const s = report(join(dir, 't.bin'));
    assert.equal(s.endedBy, 'write-error');
    assert.ok(s.events > 0 && s.events < 800000, `events up to the full disk: ${s.events}`);
  } finally {
    spawnSync('umount', [dir]);
  }
});

test('memtrace report renders the trace as html, csv and text', () => {
  const h = run(['report', 'known.bin', '--format', 'html', '-o', 'known.html']);
  assert.equal(h.code, 0, h.stderr);
  const html = readFileSync(join(work, 'known.html'), 'utf8');
  assert.match(html, /Live heap bytes/);
  assert.match(html, /keep_big \(known\)/);
  const c = run(['report', 'known.bin', '--format', 'csv', '-o', '-']);
  assert.match(c.stdout.split('\n')[0], /call site,calls,bytes/);
  const t = run(['report', 'known.bin', '--format', 'text']);
  assert.match(t.stdout, /peak live +13\.7 KiB/);
});

test('an install where the interposer could not be built: memtrace malloc says why, other tools run', () => {
  const inst = join(work, 'no-native');
  mkdirSync(inst);
  cpSync(join(root, 'dist'), join(inst, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(inst, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(inst, 'node_modules'));
  mkdirSync(join(inst, 'native'));
  cpSync(join(root, 'native', 'build.js'), join(inst, 'native', 'build.js'));
  // a compile error: the build says which, in one line, and the install goes on
  writeFileSync(join(inst, 'native', 'memtrace_malloc.c'), readFileSync(join(root, 'native', 'memtrace_malloc.c'), 'utf8').replace('static int rec_on;', 'static int rec_on'));
  const b = spawnSync(process.execPath, [join(inst, 'native', 'build.js')], { encoding: 'utf8' });
  assert.equal(b.status, 0, 'a failed build does not fail the install');
  assert.match(b.stderr, /^memtrace: the malloc interposer was not built: (cc|gcc|clang) failed: .*memtrace_malloc\.c:\d+:\d+: error: .*; memtrace malloc will say so, the other tools work\n$/);
  const m = spawnSync(process.execPath, [join(inst, 'dist', 'cli.js'), 'malloc', '--', 'true'], { encoding: 'utf8' });
  assert.equal(m.status, 2);
  assert.match(m.stderr, /^memtrace: the malloc interposer was not built at install: (cc|gcc|clang) failed: .*error: .*; once fixed, run `node .*native\/build\.js`\n$/);
  // no compiler at all (an empty PATH, CC unset)
  const env = { ...process.env, PATH: join(inst, 'empty') };
  delete env.CC;
  const n = spawnSync(process.execPath, [join(inst, 'native', 'build.js')], { encoding: 'utf8', env });
  assert.equal(n.status, 0);
  assert.equal(n.stderr, 'memtrace: the malloc interposer was not built: no C compiler found (looked for cc, gcc and clang on PATH; install gcc, or set CC); memtrace malloc will say so, the other tools work\n');
  const m2 = spawnSync(process.execPath, [join(inst, 'dist', 'cli.js'), 'malloc', '--', 'true'], { encoding: 'utf8' });
  assert.match(m2.stderr, /^memtrace: the malloc interposer was not built at install: no C compiler found/);
  // fixed: the same script builds it, and malloc runs
  writeFileSync(join(inst, 'native', 'memtrace_malloc.c'), readFileSync(join(root, 'native', 'memtrace_malloc.c')));
  assert.equal(spawnSync(process.execPath, [join(inst, 'native', 'build.js')], { encoding: 'utf8' }).status, 0);
  assert.ok(existsSync(join(inst, 'native', 'build', 'libmemtrace-malloc.so')));
  assert.ok(!existsSync(join(inst, 'native', 'build', 'NOT-BUILT.txt')));
  const ok = spawnSync(process.execPath, [join(inst, 'dist', 'cli.js'), 'malloc', '-o', join(work, 'inst.bin'), '--', join(work, 'known')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const r = spawnSync(process.execPath, [join(inst, 'dist', 'cli.js'), 'report', join(work, 'known.bin'), '--format', 'json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('make builds with gcc unless CC is given (make predefines CC=cc)', () => {
  const dry = execFileSync('make', ['-n', '-p', '-C', join(root, 'native')], { encoding: 'utf8', env: { ...process.env, CC: '' } });
  assert.match(dry, /node build\.js/);
  const withCc = execFileSync('make', ['-s', '-n', '-C', join(root, 'native'), 'CC=clang'], { encoding: 'utf8' });
  assert.match(withCc, /node build\.js/);
});

test('a file-size limit (ulimit -f) stops the trace, never the program', () => {
  const exe = join(work, 'churn');
  const untraced = spawnSync('bash', ['-c', `ulimit -f 200; exec ${exe} 400000`], { cwd: work, encoding: 'utf8' });
  assert.equal(untraced.status, 3);
  const r = spawnSync('bash', ['-c', `ulimit -f 200; exec "$0" "$@"`, process.execPath, cli, 'malloc', '-o', 'limited.bin', '--', exe, '400000'], { cwd: work, encoding: 'utf8' });
  assert.equal(r.signal, null, 'not killed by SIGXFSZ');
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, 'done\n');
  assert.match(r.stderr, /memtrace: warning: the trace stopped at [\d.]+ ms: the file-size limit \(ulimit -f\) was reached; the program ran on; the per-function totals cover the whole run/);
  assert.ok(statSync(join(work, 'limited.bin')).size <= 200 * 1024);
  const s = report('limited.bin');
  assert.equal(s.endedBy, 'write-error');
  assert.equal(fn(s, 'malloc').calls, 400000, 'totals are exact');
  assert.equal(fn(s, 'free').calls, 400000);
  assert.ok(s.events > 10000 && s.events < 800000, `events up to the limit: ${s.events}`);
});

test('node --stacks: the perf map is private, a symlink planted at /tmp/perf-PID.map is not followed, no v8 log is left', () => {
  const dir = mkdtempSync(join(work, 'cwd-'));
  const victim = join(work, 'victim.txt');
  writeFileSync(victim, 'keep me\n');
  const prog = join(fixtures, 'buffers.js');
  // the shell plants the link at its own pid, then execs node under that pid
  const script = `ln -s ${victim} /tmp/perf-$$.map && echo $$ > pid && exec ${process.execPath} ${prog} 5`;
  const tmp = mkdtempSync(join(work, 'tmpdir-'));
  const r = run(['malloc', '--stacks', '-o', 'n.bin', '--', 'sh', '-c', script], { cwd: dir, env: { ...process.env, NODE_OPTIONS: '', TMPDIR: tmp } });
  const pid = readFileSync(join(dir, 'pid'), 'utf8').trim();
  const planted = `/tmp/perf-${pid}.map`;
  try {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(victim, 'utf8'), 'keep me\n', 'the link target is untouched');
    assert.equal(readlinkSync(planted), victim, 'the planted link is not memtrace\'s to remove');
  } finally {
    rmSync(planted, { force: true });
  }
  assert.deepEqual(readdirSync(dir).filter((f) => !/^n\.bin(\.\d+)?$/.test(f)), ['pid'], 'no isolate-*-v8.log, no perf map: the traces (sh forks ln and echo) and the test\'s pid file');
  const s = report(join(dir, 'n.bin'));
  assert.match(s.topSitesByBytes.flatMap((x) => x.frames).join('\n'), /parseRecords \(.*buffers\.js:\d+\)/, 'JIT frames named from the private map');
  assert.deepEqual(readdirSync(tmp), [], 'the private directory is removed');
});

test('a private directory is removed when the program is killed', () => {
  const tmp = mkdtempSync(join(work, 'tmpdir-'));
  const r = run(['malloc', '--stacks', '-o', 'k.bin', '--', process.execPath, '-e', 'process.kill(process.pid, "SIGKILL")'], { env: { ...process.env, NODE_OPTIONS: '', TMPDIR: tmp } });
  assert.equal(r.code, 128 + 9);
  assert.deepEqual(readdirSync(tmp), []);
});

test('a trace with bytes changed is refused in one line, exit 2', () => {
  const good = readFileSync(join(work, 'killed.bin'));
  let refused = 0;
  for (let k = 0; k < 20; k++) {
    const b = Buffer.from(good);
    // change 8 bytes of the events (past the header and the first process's INFO chunk)
    for (let i = 0; i < 8; i++) b[400 + ((k * 7919 + i * 104729) % (b.length - 2000))] ^= 0x5a + k;
    writeFileSync(join(work, 'bad.bin'), b);
    const r = run(['report', 'bad.bin', '--format', 'json']);
    if (r.code === 2) {
      assert.match(r.stderr, /^memtrace: bad\.bin is corrupt: .+ \(chunk at byte \d+\); it was not written this way by memtrace malloc\n$/);
      refused++;
    }
  }
  assert.equal(refused, 20);
});

test('clock pairs of threads a moment out of step are read past; a clock that goes back by seconds is corrupt', () => {
  const good = readFileSync(join(work, 'killed.bin'));
  // The chunks: after the 16-byte file header, each is a type and a length (u32 each) then its body.
  const chunks = [];
  for (let pos = 16; pos + 8 <= good.length;) {
    const type = good.readUInt32LE(pos), len = good.readUInt32LE(pos + 4);
    if (pos + 8 + len > good.length) break;
    chunks.push({ type, body: pos + 8 });
    pos += 8 + len;
  }
  const info = chunks.find((c) => c.type === 1);
  const events = chunks.filter((c) => c.type === 2);
  assert.ok(info && events.length > 0);
  const startMono = good.readBigUInt64LE(info.body + 32);
  const expected = report(join(work, 'killed.bin')).allocations;
  // An EVENTS chunk's (ticks, monotonic) pair whose time reads before the process started:
  // by 2 ms it is a pair out of step (dropped), by 5 s the file is not as memtrace wrote it.
  for (const [backNs, ok] of [[2_000_000n, true], [5_000_000_000n, false]]) {
    const b = Buffer.from(good);
    b.writeBigUInt64LE(startMono - backNs, events[0].body + 24);
    writeFileSync(join(work, 'skew.bin'), b);
    const r = run(['report', 'skew.bin', '--format', 'json']);
    if (ok) { assert.equal(r.code, 0, r.stderr); assert.equal(JSON.parse(r.stdout).allocations, expected); }
    else { assert.equal(r.code, 2); assert.match(r.stderr, /clock readings go backwards/); }
  }
});

test('bad --top and --min-size: one line, exit 2', () => {
  for (const [args, msg] of [
    [['--top', 'abc'], /^memtrace: --top: 'abc' must be a whole number from 1 to 100000\n$/],
    [['--top', '0'], /^memtrace: --top: '0' must be a whole number/],
    [['--min-size', '17179869184t'], /^memtrace: --min-size: '17179869184t' is too large \(allowed: 0 to [^)]+\)\n$/],
  ]) {
    const r = run(['malloc', ...args, '--', 'true']);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, msg);
  }
});

test('the JSON summary names its tool', () => {
  assert.equal(report('known.bin').tool, 'malloc');
});

test('cleanup', () => { rmSync(work, { recursive: true, force: true }); });
