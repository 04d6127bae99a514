import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const cli = join(root, 'dist', 'cli.js');
const fixture = (name) => join(root, 'test', 'fixtures', 'spaces', name);
const MiB = 1024 * 1024;

function run(args, opts = {}) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: opts.cwd ?? root, env: opts.env ?? process.env, timeout: opts.timeout });
}
function readJsonl(path) {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}
const tmp = () => mkdtempSync(join(tmpdir(), 'memtrace-spaces-'));

test('CLI on a real program: start and exit snapshots, output and exit code passed through', () => {
  const dir = tmp();
  const log = join(dir, 'build.jsonl');
  const bare = spawnSync(process.execPath, [fixture('build.js')], { encoding: 'utf8' });
  const r = run(['spaces', '--output', log, '--', process.execPath, fixture('build.js')]);
  assert.equal(bare.status, 3);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, bare.stdout, 'the program sees the same stdout and environment (NODE_OPTIONS restored, no MEMTRACE_SPACES)');
  assert.ok(r.stderr.startsWith(bare.stderr), 'the program\'s stderr comes first, untouched');
  assert.match(r.stderr, /^  2 snapshots: start at \d+\.\d+ s, exit \(code 3\) at /m);
  assert.match(r.stderr, /external memory .*\+5\d\.\d MiB/);
  assert.match(r.stderr, /^ {2}(new|old) /m);
  assert.match(r.stderr, new RegExp(`wrote ${log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const [header, ...records] = readJsonl(log);
  assert.equal(header.tool, 'spaces');
  assert.equal(header.interval_ms, null);
  const snaps = records.filter((x) => x.at);
  assert.deepEqual(snaps.map((x) => x.at), ['start', 'exit']);
  const [start, exit] = snaps;
  assert.equal(exit.exitCode, 3);
  assert.ok(exit.t >= start.t);
  assert.ok(start.code && exit.code, 'code statistics at start and exit');
  assert.ok(exit.heap.externalMemory - start.heap.externalMemory >= 50 * MiB);
  const grew = exit.spaces.new.used + exit.spaces.old.used - start.spaces.new.used - start.spaces.old.used;
  assert.ok(grew > 3 * MiB, `new+old grew by ${grew}`);
  assert.deepEqual(records.at(-1).ended, true);
});

test('the program keeps its own NODE_OPTIONS', () => {
  const env = { ...process.env, NODE_OPTIONS: '--max-old-space-size=300' };
  const bare = spawnSync(process.execPath, [fixture('build.js')], { encoding: 'utf8', env });
  const r = run(['spaces', '-q', '--output', join(tmp(), 'x.jsonl'), '--', 'node', fixture('build.js')], { env });
  assert.match(bare.stdout, /NODE_OPTIONS=--max-old-space-size=300 MEMTRACE_SPACES=\(unset\)/);
  assert.equal(r.stdout, bare.stdout);
  assert.equal(r.status, 3);
});

test('child processes and worker threads of the program are not traced', () => {
  const log = join(tmp(), 'f.jsonl');
  const bare = spawnSync(process.execPath, [fixture('forks.js')], { encoding: 'utf8' });
  const r = run(['spaces', '-q', '-o', log, '--', 'node', fixture('forks.js')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, bare.stdout);
  assert.match(r.stdout, /child NODE_OPTIONS=\(unset\)\nworker said 1\n/);
  assert.deepEqual(readJsonl(log).filter((x) => x.at).map((x) => x.at), ['start', 'exit'], 'one program traced');
});

test('--interval records while the program is busy in synchronous code', () => {
  const log = join(tmp(), 'busy.jsonl');
  const r = run(['spaces', '--interval', '100ms', '-q', '--output', log, '--', 'node', fixture('busy.js')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'done\n');
  const snaps = readJsonl(log).slice(1).filter((x) => x.at);
  assert.equal(snaps[0].at, 'start');
  assert.equal(snaps.at(-1).at, 'exit');
  const busy = snaps.filter((x) => x.at === 'interval');
  // The program never yields to its event loop: these come through V8 interrupts.
  assert.ok(busy.length >= 2, `${busy.length} interval snapshots during a 1.5 s busy loop`);
  assert.ok(busy.every((x) => !x.loop), 'taken by interrupt, not by the event loop fallback');
});

test('exit snapshot on an uncaught exception, process.exit() and a signal', async () => {
  const dir = tmp();
  const t = run(['spaces', '-q', '-o', join(dir, 't.jsonl'), '--', 'node', fixture('throws.js')]);
  assert.equal(t.status, 1);
  assert.equal(t.stdout, 'before the throw\n');
  assert.match(t.stderr, /Error: boom from the fixture/);
  const te = readJsonl(join(dir, 't.jsonl')).find((x) => x.at === 'exit');
  assert.equal(te.reason, 'uncaught exception');

  const e = run(['spaces', '-q', '-o', join(dir, 'e.jsonl'), '--', 'node', fixture('exits.js')]);
  assert.equal(e.status, 7);
  assert.equal(e.stdout, 'exiting with 7\n');
  assert.equal(readJsonl(join(dir, 'e.jsonl')).find((x) => x.at === 'exit').exitCode, 7);

  const child = spawn(process.execPath, [cli, 'spaces', '-q', '-o', join(dir, 's.jsonl'), '--', 'node', fixture('waits.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise((res) => child.stdout.on('data', (b) => { out += b; if (out.includes('ready')) res(); }));
  child.kill('SIGTERM');
  const code = await new Promise((res) => child.on('exit', (c) => res(c)));
  assert.equal(code, 143, 'ended by SIGTERM: 128 + 15');
  const se = readJsonl(join(dir, 's.jsonl')).find((x) => x.at === 'exit');
  assert.equal(se.reason, 'signal SIGTERM');
});

test('marks from the traced program become records and snapshots', () => {
  const log = join(tmp(), 'm.jsonl');
  const r = run(['spaces', '-q', '-o', log, '--', 'node', fixture('marks.js')]);
  assert.equal(r.status, 0, r.stderr);
  const recs = readJsonl(log).slice(1);
  assert.deepEqual(recs.filter((x) => x.mark).map((x) => x.mark), ['before build', 'after build']);
  assert.deepEqual(recs.filter((x) => x.at === 'mark').map((x) => x.label), ['before build', 'after build']);
});

test('memtrace report on a spaces log: text, html, csv, json', () => {
  const dir = tmp();
  const log = join(dir, 'r.jsonl');
  run(['spaces', '-q', '--interval', '50ms', '-o', log, '--', 'node', fixture('busy.js')]);
  const text = run(['report', log]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^ {2}space +used start +used end +change +committed start +committed end +change$/m);
  assert.match(text.stdout, /^ {2}old +\S+ \S+ +\S+ \S+ +[+-]/m);
  assert.match(text.stdout, /peak used heap/);
  const html = run(['report', log, '--format', 'html', '--output', join(dir, 'r.html')]);
  assert.equal(html.status, 0, html.stderr);
  const page = readFileSync(join(dir, 'r.html'), 'utf8');
  assert.match(page, /Used bytes per V8 heap space \(stacked\)/);
  assert.match(page, /"stacked":true/);
  assert.match(page, /Heap spaces: start, end and change/);
  run(['report', log, '--format', 'csv', '--output', join(dir, 'r.csv')]);
  const csv = readFileSync(join(dir, 'r.csv'), 'utf8').trim().split('\n');
  assert.match(csv[0], /^t_ms,at,label,.*old_used,old_committed/);
  assert.ok(csv.length >= 4, 'one row per snapshot');
  const json = JSON.parse(run(['report', log, '--format', 'json']).stdout);
  assert.equal(json.tool, 'spaces');
  assert.equal(json.end, 'exit');
  assert.ok(json.snapshots >= 3);
});

test('bad input: one line, exit 2, the program is not run', () => {
  const dir = tmp();
  const cases = [
    [['spaces', '--interval', '0', '--', 'node', fixture('build.js')], /^memtrace: --interval: '0' must be greater than zero \(allowed: 1ms to 24d\)\n$/],
    // 600 h overflows a timer (2³¹ ms) into 1 ms: the program would hang, its log growing.
    [['spaces', '--interval', '600h', '--', 'node', fixture('build.js')], /^memtrace: --interval: '600h' is too long \(allowed: 1ms to 24d\)\n$/],
    [['spaces', '--interval', '0.0001ms', '--', 'node', fixture('build.js')], /^memtrace: --interval: '0.0001ms' is too short \(allowed: 1ms to 24d\)\n$/],
    [['spaces', '--threshold', '17179869184t', '--', 'node', fixture('build.js')], /^memtrace: --threshold: '17179869184t' is too large \(allowed: 0 to 128t\)\n$/],
    [['spaces', '--threshold', '0.3', '--', 'node', fixture('build.js')], /^memtrace: --threshold: '0.3' is less than one byte/],
    [['spaces', '--interval', 'soon', '--', 'node', fixture('build.js')], /^memtrace: --interval: 'soon' is not a duration/],
    [['spaces', '--threshold', 'big', '--', 'node', fixture('build.js')], /^memtrace: --threshold: 'big' is not a size/],
    [['spaces', '--', 'python3', '-c', 'print(1)'], /^memtrace: spaces needs a node program .*'python3' is not node\n$/],
    [['spaces', '-o', join(dir, 'no', 'such', 'dir', 'x.jsonl'), '--', 'node', fixture('build.js')], /^memtrace: cannot write log .*: no such file or directory\n$/],
    [['spaces', '--', 'node99'], /^memtrace: command not found: node99\n$/],
  ];
  for (const [args, re] of cases) {
    const r = run(args, { cwd: dir, timeout: 20_000 });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '', 'the program did not run');
  }
  assert.deepEqual(readdirSync(dir), [], 'no log left behind');
});

test('a node run that never loads the probe says so and passes the exit code', () => {
  const dir = tmp();
  const r = run(['spaces', '-o', join(dir, 'v.jsonl'), '--', 'node', '--version'], { cwd: dir });
  assert.equal(r.status, 0);
  assert.equal(r.stdout, process.version + '\n');
  assert.match(r.stderr, /sent no V8 figures/);
  assert.ok(existsSync(join(dir, 'v.jsonl')));
});

test('a script whose #! line runs node is a node program', () => {
  const log = join(tmp(), 'sb.jsonl');
  const r = run(['spaces', '-q', '-o', log, '--', fixture('shebang.js')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'run by its #! line\n');
  assert.deepEqual(readJsonl(log).filter((x) => x.at).map((x) => x.at), ['start', 'exit']);
});
