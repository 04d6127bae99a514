// Every tool run in an empty working directory, with an empty TMPDIR of its own, leaves only
// what was asked for: its log (default name or -o), the report asked for, nothing in TMPDIR.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memtrace, root } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'memtrace-clean-test-'));
const app = join(root, 'test', 'fixtures', 'install', 'app.js');
after(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** Runs `memtrace ARGS` in a fresh empty cwd with a fresh empty TMPDIR; returns what is left in each. */
function inEmptyDir(args) {
  const dir = join(work, `cwd-${++n}`), tmp = join(work, `tmp-${n}`);
  mkdirSync(dir);
  mkdirSync(tmp);
  const env = { ...process.env, TMPDIR: tmp, NODE_OPTIONS: '' };
  const r = memtrace(args, { cwd: dir, env, timeout: 120_000 });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return { dir, env, cwd: readdirSync(dir).sort(), tmp: readdirSync(tmp) };
}

const stamp = '\\d{8}-\\d{6}-\\d+';
const cases = [
  [['process'], [`memtrace-process-${stamp}\\.jsonl`]],
  [['calls'], [`memtrace-calls-${stamp}\\.jsonl`]],
  [['heap'], [`memtrace-heap-${stamp}\\.heapprofile`, `memtrace-heap-${stamp}\\.jsonl`]],
  [['spaces'], [`memtrace-spaces-${stamp}\\.jsonl`]],
  [['malloc'], [`memtrace-malloc-${stamp}\\.bin`]],
  [['malloc', '--stacks'], [`memtrace-malloc-${stamp}\\.bin`]],
];

for (const [tool, expected] of cases) {
  test(`${tool.join(' ')}: only its log is left, TMPDIR stays empty`, () => {
    const left = inEmptyDir([...tool, '--', process.execPath, app, '5000']);
    assert.equal(left.cwd.length, expected.length, `left in the cwd: ${left.cwd.join(', ')}`);
    expected.forEach((re, i) => assert.match(left.cwd[i], new RegExp(`^${re}$`)));
    assert.deepEqual(left.tmp, [], 'TMPDIR');
    // the report asked for adds exactly its file
    const log = left.cwd.find((f) => !f.endsWith('.heapprofile'));
    const r = memtrace(['report', log, '--format', 'html', '-o', 'report.html'], { cwd: left.dir, env: left.env });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(left.dir).sort(), [...left.cwd, 'report.html'].sort());
  });
}

test('-o elsewhere: the cwd stays empty', () => {
  const out = join(work, 'elsewhere');
  mkdirSync(out);
  for (const [tool, ext] of [['process', 'jsonl'], ['calls', 'jsonl'], ['heap', 'jsonl'], ['spaces', 'jsonl'], ['malloc', 'bin']]) {
    const left = inEmptyDir([tool, '-o', join(out, `${tool}.${ext}`), '--', process.execPath, app, '2000']);
    assert.deepEqual(left.cwd, [], `${tool} left in the cwd: ${left.cwd.join(', ')}`);
    assert.deepEqual(left.tmp, [], `${tool} left in TMPDIR`);
  }
});
