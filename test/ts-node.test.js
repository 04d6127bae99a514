// A CommonJS TypeScript project run by ts-node (`node -r ts-node/register app.ts`), still the
// most used way to run TypeScript in older projects: every tool must run it as node does
// (node's ESM loader knows no .ts, so a main module sent through it fails) and name its lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { memtrace, readJsonl, root, tmp } from './helpers.js';

const project = join(root, 'test', 'fixtures', 'ts-node');
const program = ['node', '-r', 'ts-node/register', 'app.ts'];
const work = tmp();
const run = (args) => memtrace([...args, '--', ...program], { cwd: project, timeout: 120_000 });
/**
 * A probe loaded with `--import` makes node 20 run the main module through its ESM loader, which
 * refuses a .ts main that only a require hook can load. Probes load with `--require`; process,
 * spaces and calls, which must be up before the program's first line, start synchronously
 * through the runtime addon (without it they fall back to `--import`). malloc's marks preload
 * (--stacks) is a `--require` too. node 24 runs it under every tool.
 */
const IMPORT_ROUTES_MAIN = Number(process.versions.node.split('.')[0]) < 22;
const ADDON = existsSync(join(root, 'native', 'build', 'memtrace-runtime.node'));
const importSkip = (tool) => (IMPORT_ROUTES_MAIN && !ADDON && ['process', 'spaces', 'calls'].includes(tool)
  ? 'node 20: a probe loaded with --import sends the main module through the ESM loader, which knows no .ts'
  : false);

test('ts-node: the program runs untraced', () => {
  const r = spawnSync(program[0], program.slice(1), { cwd: project, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'kept 40\n');
});

for (const tool of ['process', 'calls', 'heap', 'spaces', 'malloc']) {
  test(`ts-node under ${tool}: same output and exit code`, { skip: importSkip(tool) }, () => {
    const r = run([tool, '-o', join(work, `${tool}.log`)]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'kept 40\n');
    assert.doesNotMatch(r.stderr, /ERR_UNKNOWN_FILE_EXTENSION/);
  });
}

test('ts-node under malloc --stacks (its marks preload): same output and exit code', () => {
  const r = run(['malloc', '--stacks', '-o', join(work, 'malloc-stacks.bin')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'kept 40\n');
});

test('ts-node: calls names the .ts line of keepForty', { skip: importSkip('calls') }, () => {
  const calls = join(work, 'calls-lines.jsonl');
  assert.equal(run(['calls', '-o', calls]).status, 0);
  const ret = readJsonl(calls).find((e) => e.ev === 'return' && e.fn === 'keepForty');
  assert.ok(ret, 'a return event of keepForty');
  assert.deepEqual([ret.file, ret.line], ['app.ts', 6]);
});

test('ts-node: heap names the .ts line that made the Buffers', () => {
  // The Buffers are garbage once the module has run: --all counts what was allocated, on the
  // line that made them (a Buffer's site is its call line). Their bytes are a sampled estimate:
  // 40.0 MiB at the base interval, but ts-node's start-up makes Buffers enough for the stacks'
  // time budget to raise the interval for a while, and 1 MiB Buffers are then weighted (39.2 and
  // 42.1 MiB seen, 46.0 in one CI run; the sampler's measured spread at a raised interval is
  // 35.8-48.4): the line is what this test is for, the bytes only within that spread.
  const heap = run(['heap', '--all', '-o', join(work, 'heap-lines.jsonl')]);
  assert.equal(heap.status, 0, heap.stderr);
  assert.match(heap.stderr, /\s(3[5-9]|4\d)\.\d MiB +[\d.]+% +\d+ +app\.ts:7 +keepForty\n/);
});
