// Real libraries nobody here wrote (marked, yaml, js-yaml, meriyah: installed as devDependencies),
// every one of their functions instrumented, give byte-identical results traced and untraced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const fixtures = join(root, 'test', 'fixtures', 'calls');
const tmp = mkdtempSync(join(tmpdir(), 'memtrace-calls-libs-'));
const LIBS = ['marked', 'yaml', 'js-yaml', 'meriyah'];
const include = LIBS.flatMap((l) => ['--include', `**/node_modules/${l}/**`]);

const plain = spawnSync(process.execPath, ['libs.mjs'], { cwd: fixtures, encoding: 'utf8' });

test('untraced, the corpus gives output for every library', () => {
  assert.equal(plain.status, 0, plain.stderr);
  for (const l of LIBS) assert.match(plain.stdout, new RegExp(`^${l} `, 'm'));
});

for (const mode of [['--trigger', '4k'], ['--trigger', '64k', '--lines']]) {
  test(`traced (${mode.join(' ')}): same stdout, stderr and exit code, and events from every library`, () => {
    const out = join(tmp, `libs${mode.length}.jsonl`);
    const r = spawnSync(process.execPath, [cli, 'calls', ...mode, ...include, '--output', out, '--', 'node', 'libs.mjs'], { cwd: fixtures, encoding: 'utf8' });
    assert.equal(r.status, plain.status);
    assert.equal(r.stdout, plain.stdout);
    assert.equal(r.stderr.split('\n').filter((l) => !l.startsWith('memtrace: ')).join('\n'), plain.stderr);
    const log = readFileSync(out, 'utf8');
    for (const l of LIBS) assert.ok(log.includes(`node_modules/${l}/`), `no event from ${l}`);
  });
}

test('a package that ships its own test suite (minimist, run by tape): same pass/fail counts traced, with the package, its tests and tape instrumented', () => {
  const tape = join(root, 'node_modules', 'tape', 'bin', 'tape');
  const cwd = join(root, 'node_modules', 'minimist');
  const args = [tape, 'test/*.js'];
  const untraced = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  const out = join(tmp, 'minimist.jsonl');
  const traced = spawnSync(process.execPath, [cli, 'calls', '--trigger', '0', '--include', '**/node_modules/minimist/**', '--include', '**/node_modules/tape/**', '--include', '**/node_modules/deep-equal/**', '--output', out, '--', 'node', ...args], { cwd, encoding: 'utf8' });
  const counts = (s) => s.split('\n').filter((l) => /^# (tests|pass|fail)/.test(l));
  assert.equal(untraced.status, 0, untraced.stdout.slice(-500));
  assert.ok(counts(untraced.stdout).length >= 2);
  assert.deepEqual(counts(traced.stdout), counts(untraced.stdout));
  assert.equal(traced.stdout, untraced.stdout);
  assert.equal(traced.status, untraced.status);
  const log = readFileSync(out, 'utf8');
  assert.ok(log.includes('"file":"index.js"') && log.includes('"file":"test/parse.js"'), 'minimist and its tests were traced');
});
