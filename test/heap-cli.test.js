// memtrace heap on real programs: lines, kept vs collected, exit codes, bad input, source maps, reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const fx = join(root, 'test', 'fixtures', 'heap');
const accuracy = join(fx, 'accuracy.js');
const dir = mkdtempSync(join(tmpdir(), 'memtrace-heap-test-'));
const KiB = 1024, MiB = 1024 * 1024, INTERVAL = 32 * KiB;

/** 1-based line of the first line of `file` containing `text`. */
function lineOf(file, text) {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text));
  assert.ok(i >= 0, `${text} not in ${file}`);
  return i + 1;
}

function memtrace(args, opts = {}) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: dir, ...opts });
}

function summary(log) {
  const r = memtrace(['report', log, '--format', 'json', '--top', '50']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function site(sum, file, line) {
  return sum.top.find((s) => s.where.endsWith(`${file}:${line}`));
}

/** Sampling error bound: 4 standard deviations of a Poisson count of samples of `bytes` at `interval`. */
function bound(bytes) {
  return 4 * Math.sqrt(bytes * INTERVAL) + 0.05 * bytes;
}

const L40 = lineOf(accuracy, 'function keepForty');
const L4 = lineOf(accuracy, 'function dropFour');
const L400 = lineOf(accuracy, 'function keepFourHundred');

test('sampled (default): the kept 40 MiB and 400 KiB are live on their lines, the dropped 4 MiB is not', () => {
  const log = join(dir, 'live.jsonl');
  const r = memtrace(['heap', '-o', log, '--', process.execPath, accuracy]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /live at the end/);
  assert.ok(existsSync(join(dir, 'live.heapprofile')), 'the .heapprofile is written beside the log');
  const profile = JSON.parse(readFileSync(join(dir, 'live.heapprofile'), 'utf8'));
  assert.ok(profile.head && Array.isArray(profile.samples), 'DevTools .heapprofile shape');
  const sum = summary(log);
  const big = site(sum, 'accuracy.js', L40);
  assert.ok(big, 'keepForty is a site');
  assert.ok(Math.abs(big.live - 40 * MiB) < bound(40 * MiB), `keepForty live ${big.live}`);
  const small = site(sum, 'accuracy.js', L400);
  assert.ok(small && small.live > 0 && small.live < 400 * KiB + bound(400 * KiB), `keepFourHundred live ${small?.live}`);
  const dropped = site(sum, 'accuracy.js', L4);
  assert.ok(!dropped || dropped.live < 200 * KiB, `dropFour is collected, live ${dropped?.live}`);
  assert.equal(sum.mode, 'sampled');
});

test('sampled --all: the dropped 4 MiB is counted as allocated on its line', () => {
  const log = join(dir, 'all.jsonl');
  const r = memtrace(['heap', '--all', '-o', log, '--', process.execPath, accuracy]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /allocated \(collected objects included\)/);
  const sum = summary(log);
  const dropped = site(sum, 'accuracy.js', L4);
  assert.ok(dropped, 'dropFour is a site');
  assert.ok(Math.abs(dropped.alloc - 4 * MiB) < bound(4 * MiB), `dropFour allocated ${dropped.alloc}`);
  const big = site(sum, 'accuracy.js', L40);
  assert.ok(Math.abs(big.alloc - 40 * MiB) < bound(40 * MiB), `keepForty allocated ${big.alloc}`);
});

test('Buffers after a burst that raised the sampling interval: the interval is back at its base, 40 MiB within 5%', () => {
  // A burst of 300 000 small Buffers makes the stacks cost more than the sampler's time budget;
  // after 300 ms without Buffers the 1 MiB Buffers are sampled at the base interval again
  // (each one then nearly always sampled: an estimate close to exact, not one off by 10-20%).
  const prog = join(fx, 'buffer-burst.cjs');
  const log = join(dir, 'burst.jsonl');
  const r = memtrace(['heap', '-o', log, '--', process.execPath, prog]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '40\n');
  const keep = site(summary(log), 'buffer-burst.cjs', lineOf(prog, 'kept.push(Buffer.alloc'));
  assert.ok(keep, 'keepForty\'s Buffer.alloc line is a site');
  assert.ok(Math.abs(keep.extLive - 40 * MiB) <= 0.05 * 40 * MiB, `external live ${keep.extLive}`);
});

test('the moment shown is after its GC: Buffers dead by then are not ArrayBuffers "not placed" on any site', () => {
  const r = memtrace(['heap', '-o', join(dir, 'dead.jsonl'), '--', process.execPath, join(fx, 'dead-buffers.cjs')]);
  assert.equal(r.status, 0, r.stderr);
  // end (before the GC): the 40 MiB; at the moment shown (after it): a few KiB, and none unplaced.
  assert.match(r.stderr, /of which ArrayBuffers [\d.]+ KiB \/ 40\.\d MiB \/ 40\.\d MiB/);
  const m = /ArrayBuffers at the moment shown: ([\d.]+) (B|KiB|MiB);.*not placed: ([\d.]+) (B|KiB|MiB)/.exec(r.stderr);
  assert.ok(m && m[2] !== 'MiB' && m[4] !== 'MiB', r.stderr);
});

test('--exact: every object; live and allocated per line, exactly', () => {
  const log = join(dir, 'exact.jsonl');
  const r = memtrace(['heap', '--exact', '-o', log, '--', process.execPath, accuracy]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'exact.heapsnapshot')));
  const sum = summary(log);
  assert.equal(sum.mode, 'exact');
  const big = site(sum, 'accuracy.js', L40);
  assert.ok(Math.abs(big.live - 40 * MiB) < 0.02 * 40 * MiB, `keepForty live ${big.live}`);
  const dropped = site(sum, 'accuracy.js', L4);
  assert.ok(dropped.live < 4 * KiB, `dropFour live ${dropped.live}`);
  assert.ok(Math.abs(dropped.alloc - 4 * MiB) < 0.02 * 4 * MiB, `dropFour allocated ${dropped.alloc}`);
  const small = site(sum, 'accuracy.js', L400);
  assert.ok(small.live > 400 * KiB && small.live < 480 * KiB, `keepFourHundred live ${small.live}`);
  assert.ok(small.liveCount >= 400, 'at least one object per kept array');
  const arrays = sum.objects.find((o) => o.name === 'Array');
  assert.ok(arrays && arrays.count >= 440, `live Arrays by constructor: ${JSON.stringify(arrays)}`);
  assert.match(r.stderr, /live objects at the end by constructor/);
});

test('the program behaves as untraced: same stdout and stderr lines, exit code passed through', () => {
  const plain = spawnSync(process.execPath, [join(fx, 'prints.js')], { encoding: 'utf8' });
  const r = memtrace(['heap', '-o', join(dir, 'prints.jsonl'), '--', process.execPath, join(fx, 'prints.js')]);
  assert.equal(plain.status, 5);
  assert.equal(r.status, 5);
  assert.equal(r.stdout, plain.stdout);
  assert.ok(r.stderr.startsWith(plain.stderr), 'the program\'s stderr comes first, unchanged');
  const e = memtrace(['heap', '-o', join(dir, 'exit3.jsonl'), '--', process.execPath, accuracy, 'exit', '3']);
  assert.equal(e.status, 3, 'process.exit(3) passes through');
  assert.equal(summary(join(dir, 'exit3.jsonl')).end.exitCode, 3);
});

test('a wrapper that starts the program as a child node process (npx, tsx): the program is picked', () => {
  const log = join(dir, 'wrap.jsonl');
  const r = memtrace(['heap', '-o', log, '--', process.execPath, join(fx, 'wrapper.cjs')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /2 node processes ran/);
  const sum = summary(log);
  assert.ok(site(sum, 'accuracy.js', L40)?.live > 30 * MiB, 'the child program is reported');
  const header = JSON.parse(readFileSync(log, 'utf8').split('\n')[0]);
  assert.equal(header.other_processes.length, 1);
  assert.ok(existsSync(header.other_processes[0].profile), 'the wrapper\'s profile is kept beside the log');
});

test('SIGTERM: the profile is still written and memtrace exits 128+15', async () => {
  const log = join(dir, 'sig.jsonl');
  const child = spawn(process.execPath, [cli, 'heap', '-o', log, '--', process.execPath, join(fx, 'forever.js'), 'wait'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill('SIGTERM');
  const code = await new Promise((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 143, err);
  const sum = summary(log);
  assert.equal(sum.end.reason, 'SIGTERM');
  assert.ok(sum.totals.live > 5 * MiB, `live ${sum.totals.live}`);
});

test('bad input: --interval 0, no command, unwritable output, a program that never loads the profiler', () => {
  let r = memtrace(['heap', '--interval', '0', '--', process.execPath, accuracy]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /^memtrace: --interval: '0'/);
  r = memtrace(['heap', '--interval', 'lots', '--', process.execPath, accuracy]);
  assert.equal(r.status, 2);
  r = memtrace(['heap', '-o', '/nonexistent/dir/x.jsonl', '--', process.execPath, accuracy]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^memtrace: cannot write log/);
  r = memtrace(['heap', '-o', join(dir, 'sh.jsonl'), '--', 'sh', '-c', 'exit 4']);
  assert.equal(r.status, 4, 'the exit code still passes through');
  assert.match(r.stderr, /before the heap profiler attached/);
  assert.ok(!existsSync(join(dir, 'sh.jsonl')), 'no empty log left behind');
});

test('TypeScript through its source map; an unreadable source map falls back with a note', () => {
  const ts = join(fx, 'ts');
  let log = join(dir, 'ts.jsonl');
  let r = memtrace(['heap', '-o', log, '--', process.execPath, join(ts, 'alloc.js')]);
  assert.equal(r.status, 0, r.stderr);
  let sum = summary(log);
  const line = lineOf(join(ts, 'alloc.ts'), 'export function fillBoxes');
  const s = site(sum, 'alloc.ts', line);
  assert.ok(s && s.live > 6 * MiB, `fillBoxes at alloc.ts:${line}: ${JSON.stringify(sum.top.slice(0, 3))}`);
  log = join(dir, 'broken.jsonl');
  r = memtrace(['heap', '-o', log, '--', process.execPath, join(ts, 'broken.js')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /note: cannot read the source map of .*broken\.js/);
  sum = summary(log);
  assert.ok(site(sum, 'broken.js', lineOf(join(ts, 'broken.js'), 'export function fillBoxes')), 'generated position kept');
  assert.equal(sum.notes.length, 1);
});

test('TypeScript transformed in memory (node --import tsx): lines from the inline source map, CLI and library', () => {
  const ts = join(fx, 'ts');
  const log = join(dir, 'tsx.jsonl');
  let r = memtrace(['heap', '-o', log, '--', process.execPath, '--import', 'tsx', join(ts, 'alloc.ts')], { cwd: root });
  assert.equal(r.status, 0, r.stderr);
  const line = lineOf(join(ts, 'alloc.ts'), 'export function fillBoxes');
  assert.ok(site(summary(log), 'alloc.ts', line)?.live > 6 * MiB, r.stderr);
  r = spawnSync(process.execPath, ['--import', 'tsx', join(ts, 'lib-run.ts')], { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 0, r.stderr);
  const top = JSON.parse(r.stdout);
  assert.equal(top[0].where, `test/fixtures/heap/ts/lib-run.ts:${lineOf(join(ts, 'lib-run.ts'), 'function holdData')}`);
});

test('report: text, html with an inlined flame graph, speedscope, csv; --by function and stack', () => {
  const log = join(dir, 'live.jsonl');
  let r = memtrace(['report', log]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /keepForty/);
  r = memtrace(['report', log, '--format', 'html', '-o', join(dir, 'r.html')]);
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(join(dir, 'r.html'), 'utf8');
  assert.match(html, /d3-flame-graph/);
  assert.match(html, /keepForty/);
  assert.doesNotMatch(html, /<script[^>]+src=/, 'nothing fetched when opened');
  assert.match(html, /<th>live bytes<\/th>.*<th>live samples<\/th>/, 'the sites table is headed in words');
  assert.doesNotMatch(html, /<th>[a-z]+_[a-z]+<\/th>/, 'no CSV field names as headings');
  r = memtrace(['report', log, '--format', 'speedscope']);
  assert.equal(r.status, 0, r.stderr);
  const ss = JSON.parse(readFileSync(join(dir, 'live.speedscope.json'), 'utf8'));
  assert.equal(ss.profiles[0].unit, 'bytes');
  assert.equal(ss.profiles[0].samples.length, ss.profiles[0].weights.length);
  assert.ok(ss.shared.frames.some((f) => f.name.startsWith('keepForty')));
  r = memtrace(['report', log, '--format', 'csv', '-o', '-']);
  assert.match(r.stdout.split('\n')[0], /^where,function,live_bytes/);
  r = memtrace(['heap', '--by', 'function', '-o', join(dir, 'fn.jsonl'), '--', process.execPath, accuracy]);
  assert.equal(r.status, 0, r.stderr);
  const fn = summary(join(dir, 'fn.jsonl'));
  const run = fn.top.find((s) => s.fn === 'run');
  const forty = fn.top.find((s) => s.fn === 'keepForty');
  assert.ok(run.live >= forty.live, 'by function is inclusive: run holds what keepForty allocated');
  r = memtrace(['heap', '--by', 'stack', '-o', join(dir, 'st.jsonl'), '--', process.execPath, accuracy]);
  assert.match(r.stderr, /run .*accuracy\.js:\d+ > keepForty/);
});

test('functions inside node_modules are grouped by package unless --expand', async () => {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const app = join(dir, 'app');
  mkdirSync(join(app, 'node_modules', 'tinyalloc'), { recursive: true });
  writeFileSync(join(app, 'node_modules', 'tinyalloc', 'package.json'), '{"name":"tinyalloc","type":"module","main":"index.js"}');
  writeFileSync(join(app, 'node_modules', 'tinyalloc', 'index.js'), 'export const held = [];\nexport function grab(n) { for (let i = 0; i < n; i++) held.push(new Array(65536).fill(i)); }\n');
  writeFileSync(join(app, 'main.js'), "import { grab } from 'tinyalloc';\ngrab(40);\n");
  writeFileSync(join(app, 'package.json'), '{"type":"module"}');
  let r = memtrace(['heap', '-o', join(dir, 'pkg.jsonl'), '--', process.execPath, join(app, 'main.js')], { cwd: app });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /\[tinyalloc\]/);
  r = memtrace(['heap', '--expand', '-o', join(dir, 'pkg2.jsonl'), '--', process.execPath, join(app, 'main.js')], { cwd: app });
  assert.match(r.stderr, /node_modules\/tinyalloc\/index\.js:2\s+grab/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
