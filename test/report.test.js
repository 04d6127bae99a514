import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memtrace, tmp } from './helpers.js';

const dir = tmp();
const log = join(dir, 'run.jsonl');

test('report: every format from one process log', () => {
  const r = memtrace(['process', '-i', '20ms', '-o', log, '--', process.execPath, 'examples/grow-and-hold.js', '3']);
  assert.equal(r.status, 0, r.stderr);

  const json = memtrace(['report', log, '--format', 'json']);
  assert.equal(json.status, 0, json.stderr);
  const s = JSON.parse(json.stdout);
  assert.equal(s.tool, 'process');
  assert.ok(s.rss.peak > s.rss.start);
  assert.equal(s.marks.length, 3);
  assert.ok(['growing', 'grew-then-levelled'].includes(s.rss.trend), s.rss.trend);

  const text = memtrace(['report', log]);
  assert.match(text.stdout, /memtrace process: .*grow-and-hold/);

  const html = memtrace(['report', log, '--format', 'html', '--output', join(dir, 'r.html')]);
  assert.equal(html.status, 0, html.stderr);
  const page = readFileSync(join(dir, 'r.html'), 'utf8');
  assert.match(page, /uPlot/);
  assert.match(page, /MEMTRACE_CHARTS = \[/);
  assert.match(page, /step 2/);
  assert.doesNotMatch(page, /<script[^>]+src=|<link[^>]+href=["']?http/);

  const csv = memtrace(['report', log, '--format', 'csv', '-o', join(dir, 'r.csv')]);
  assert.equal(csv.status, 0);
  const rows = readFileSync(join(dir, 'r.csv'), 'utf8').trim().split('\n');
  assert.match(rows[0], /^t_ms,rss,anon,file,shmem,swap/);
  assert.ok(rows.length > 10);

  const gp = memtrace(['report', log, '--format', 'gnuplot', '-o', join(dir, 'r.dat')]);
  assert.equal(gp.status, 0, gp.stderr);
  assert.ok(existsSync(join(dir, 'r.dat')) && existsSync(join(dir, 'r.plt')));
  assert.match(readFileSync(join(dir, 'r.plt'), 'utf8'), /set output "r.png"/);
});

test('report: a log cut mid-line is read to its last complete record, with a warning', () => {
  const text = readFileSync(log, 'utf8');
  const cut = join(dir, 'cut.jsonl');
  writeFileSync(cut, text.slice(0, text.length - 40));
  const r = memtrace(['report', cut, '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /warning: .*cut mid-record/);
  assert.ok(JSON.parse(r.stdout).samples > 5);
});

test('report: corrupt, foreign, empty and missing logs are one-line errors', () => {
  const lines = readFileSync(log, 'utf8').split('\n');
  const corrupt = join(dir, 'corrupt.jsonl');
  writeFileSync(corrupt, [lines[0], lines[1], '{"t": 3, garbage', lines[2], ''].join('\n'));
  const foreign = join(dir, 'foreign.jsonl');
  writeFileSync(foreign, '{"hello": 1}\n');
  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '');
  const unknown = join(dir, 'unknown.jsonl');
  writeFileSync(unknown, '{"memtrace":1,"tool":"nope","pid":1,"command":[],"start":"2026-11-24T10:00:00.000Z"}\n');
  const cases = [
    [corrupt, /corrupt log .*line 3 is not a JSON record/],
    [foreign, /is not a memtrace log/],
    [empty, /is empty/],
    [unknown, /no report for logs of tool 'nope'/],
    [join(dir, 'missing.jsonl'), /cannot read log .*missing.jsonl: no such file/],
  ];
  for (const [path, re] of cases) {
    const r = memtrace(['report', path]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const badOut = memtrace(['report', log, '--format', 'html', '-o', '/nonexistent/r.html']);
  assert.equal(badOut.status, 2);
  assert.match(badOut.stderr, /cannot write \/nonexistent\/r.html/);
  const badFormat = memtrace(['report', log, '--format', 'pdf']);
  assert.equal(badFormat.status, 2);
  assert.match(badFormat.stderr, /Allowed choices are/);
});

test('report: the malloc view options on another log are a usage error naming its tool', () => {
  for (const [args, re] of [
    [['--by', 'js'], /^memtrace: --by is for malloc logs only: .*run\.jsonl is a process log$/],
    [['--since', 'step 2', '--startup'], /^memtrace: --since, --startup are for malloc logs only: .*run\.jsonl is a process log$/],
    [['--until', '1s', '--format', 'html', '-o', join(dir, 'refused.html')], /^memtrace: --until is for malloc logs only/],
  ]) {
    const r = memtrace(['report', log, ...args]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr.trim(), re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.ok(!existsSync(join(dir, 'refused.html')));
});

test('cli: --help, --version, unknown command', () => {
  const h = memtrace(['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /process/);
  assert.match(h.stdout, /report/);
  const v = memtrace(['--version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+/);
  const ph = memtrace(['process', '--help']);
  assert.match(ph.stdout, /--interval/);
  const u = memtrace(['frobnicate']);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command 'frobnicate'/);
});
