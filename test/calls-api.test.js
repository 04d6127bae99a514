// traceCalls(): sync and async blocks, nested traces, marks, silence outside a trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'calls');
const MiB = 1024 * 1024;

test('traceCalls: events of code loaded after instrumentCalls(), nested traces and marks', () => {
  const r = spawnSync(process.execPath, [join(fixtures, 'api.mjs')], { cwd: join(fixtures, '..', '..', '..'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  const ret = got.sync.find((e) => e[0] === 'return' && e[1] === 'grow');
  assert.ok(ret, JSON.stringify(got.sync));
  assert.equal(ret[2], 'test/fixtures/calls/grow-lib.mjs');
  assert.equal(ret[3], 3);
  assert.ok(Math.abs(ret[4] - 20 * MiB) <= 0.15 * 20 * MiB, String(ret[4]));
  assert.equal(got.summary[0][0], 'grow');
  assert.match(got.text, /grow \(test\/fixtures\/calls\/grow-lib\.mjs:3\)/);
  // The inner trace has its own grow(10); the outer notes the pause and resume, then its own grow(10).
  const innerRet = got.inner.find((e) => e[0] === 'return' && e[1] === 'grow');
  // RSS moves with more than the Buffers (V8 growing its heap meanwhile): at least the 10 MiB.
  assert.ok(innerRet && innerRet[2] >= 0.85 * 10 * MiB && innerRet[2] <= 1.6 * 10 * MiB, JSON.stringify(got.inner));
  assert.deepEqual(got.outer.slice(0, 3).map((e) => e[0]), ['mark', 'pause', 'resume']);
  assert.equal(got.outer[0][1], 'outer start');
  // Its 40 MiB land on grow's return, or, when the RSS thread (1 ms readings) first saw them
  // after grow returned (a loaded machine), on the next probe: growLater's return. RSS counts
  // pages: memory freed earlier and still resident can take part of it.
  assert.ok(got.outer.slice(3).some((e) => e[0] === 'return' && (e[1] === 'grow' || e[1] === 'growLater') && e[2] >= 20 * MiB), JSON.stringify(got.outer));
  // trigger 1 MiB in the outer trace: nothing smaller was written.
  for (const e of got.outer.filter((x) => x[0] === 'return' || x[0] === 'call')) assert.ok(Math.abs(e[2]) >= MiB);
  assert.equal(got.untracedAfter, 72);
});

test('traceCalls: a move the RSS thread had not read yet when a block ended is its end event, not lost', () => {
  const r = spawnSync(process.execPath, [join(fixtures, 'short-blocks.mjs')], { cwd: join(fixtures, '..', '..', '..'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const blocks = JSON.parse(r.stdout);
  assert.equal(blocks.length, 150);
  // Each block's 1 MiB (RSS counts pages: freed memory still resident can take a little of it).
  // Before the end event, 30-76 of the 150 had none.
  for (const [i, drss] of blocks.entries()) assert.ok(drss >= 0.85 * MiB, `block ${i}: ${drss} of ${MiB} (${blocks.join(' ')})`);
});
