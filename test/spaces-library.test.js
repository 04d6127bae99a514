import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffSpaces, snapshotSpaces, diffSnapshots, mark, SpacesDiff } from '../dist/index.js';

const MiB = 1024 * 1024;
let kept; // keeps what a block built alive after the block

test('a block that builds 100k objects shows new/old space growth', () => {
  kept = undefined;
  const r = diffSpaces(() => {
    const a = [];
    for (let i = 0; i < 100000; i++) a.push({ i, s: 'item' + i });
    kept = a;
    return a.length;
  });
  assert.ok(r instanceof SpacesDiff);
  assert.equal(r.value, 100000);
  const young = r.spaces.new.used.change + r.spaces.old.used.change;
  assert.ok(young > 3 * MiB, `new+old used grew by ${young} bytes`);
  assert.ok(r.heap.usedHeapSize.change > 3 * MiB);
  assert.ok(Math.abs(r.heap.externalMemory.change) < MiB, 'no external memory for plain objects');
  const text = r.format();
  assert.match(text, /^ {2}(new|old) /m);
  assert.match(text, /used heap/);
  // External memory stays out of the table unless a GC during the block freed some of what the
  // test runner itself held (then it moves, by less than 1 MiB, as asserted above).
  if (Math.abs(r.heap.externalMemory.change) < 64 * 1024) assert.doesNotMatch(text, /external memory/);
});

test('with gc, what the block kept lands in old space', () => {
  kept = undefined;
  const r = diffSpaces(() => {
    const a = [];
    for (let i = 0; i < 100000; i++) a.push({ i, s: 'item' + i });
    kept = a;
  }, { gc: true });
  assert.ok(r.spaces.old.used.change > 3 * MiB, `old used grew by ${r.spaces.old.used.change}`);
  assert.ok(r.spaces.new.used.after < MiB, 'new space is empty after a full GC');
});

test('a 50 MB Buffer shows as external memory, not in the JS spaces', () => {
  kept = undefined;
  const r = diffSpaces(() => { kept = Buffer.alloc(50 * MiB); });
  assert.ok(r.heap.externalMemory.change >= 50 * MiB, `external grew by ${r.heap.externalMemory.change}`);
  assert.ok(r.process.arrayBuffers.change >= 50 * MiB);
  assert.ok(Math.abs(r.usedChange) < 2 * MiB, `the JS spaces moved by ${r.usedChange}`);
  const text = r.format();
  assert.match(text, /external memory +\S+ \S+ +\S+ \S+ +\+5\d\.\d MiB/);
  assert.doesNotMatch(text, /large-object/);
  kept = undefined;
});

test('an async block gives a Promise of the result with the resolved value', async () => {
  const p = diffSpaces(async () => { await new Promise((r) => setTimeout(r, 5)); return 'v'; });
  assert.ok(p instanceof Promise);
  const r = await p;
  assert.equal(r.value, 'v');
  assert.ok(r.durationMs >= 0);
});

test('a block that throws: the same error is rethrown and the tool stops', async () => {
  const err = new Error('sync failure');
  assert.throws(() => diffSpaces(() => { throw err; }), (e) => e === err);
  assert.equal(mark('nothing is tracing'), false, 'the mark sink was removed');
  const aerr = new TypeError('async failure');
  await assert.rejects(diffSpaces(async () => { throw aerr; }), (e) => e === aerr);
  assert.equal(mark('still nothing'), false);
});

test('marks inside a block add snapshots', () => {
  const r = diffSpaces(() => { mark('half'); mark('end'); });
  assert.deepEqual(r.marks.map((m) => m.label), ['half', 'end']);
  assert.ok(r.marks[0].snapshot.spaces.old.used > 0);
  assert.equal(r.code, undefined, 'no code statistics unless asked');
});

test('code: true reads code and bytecode sizes either side', () => {
  const fns = [];
  const r = diffSpaces(() => {
    for (let i = 0; i < 2000; i++) {
      const f = new Function('a', `let s = a; for (let j = 0; j < ${i % 7 + 2}; j++) s += j * ${i}; return s + ${i};`);
      f(i);
      fns.push(f);
    }
  }, { code: true });
  assert.ok(r.code.bytecodeAndMetadataSize.change > 100 * 1024, `bytecode grew by ${r.code.bytecodeAndMetadataSize.change}`);
  assert.match(r.format(), /bytecode and metadata/);
});

test('snapshotSpaces and diff: every V8 space, heap and process figures', () => {
  const a = snapshotSpaces({ code: true });
  for (const s of ['new', 'old', 'code', 'large-object', 'new-large-object', 'read-only']) {
    assert.ok(a.spaces[s], `space ${s} is present`);
    for (const f of ['used', 'committed', 'available', 'physical']) assert.equal(typeof a.spaces[s][f], 'number');
  }
  assert.ok(a.heap.nativeContexts >= 1);
  assert.ok(a.code.bytecodeAndMetadataSize > 0);
  assert.ok(a.process.rss > 0);
  assert.equal(JSON.parse(JSON.stringify(a)).diff, undefined, 'a snapshot serialises as plain data');
  // ~30 MB kept: a GC between the two snapshots may free the garbage the run had made before the
  // first (a 200 000-object array, ~5 MB, read a change under 1 MiB once in CI).
  kept = new Array(1000000).fill(0).map((_, i) => ({ i }));
  const b = snapshotSpaces();
  const d = b.diff(a);
  assert.ok(d.heap.usedHeapSize.change > MiB, `used heap ${a.heap.usedHeapSize} -> ${b.heap.usedHeapSize}`);
  assert.equal(d.code, undefined, 'code sizes only when both snapshots have them');
  const d2 = diffSnapshots(a, b, '1k');
  assert.equal(d2.threshold, 1024);
  kept = undefined;
});

test('the threshold hides small changes and is settable', () => {
  const a = JSON.parse(JSON.stringify(snapshotSpaces()));
  const b = JSON.parse(JSON.stringify(a));
  b.time = a.time + 10;
  b.spaces.old.used += 20 * 1024;
  b.spaces.new.used += 200 * 1024;
  b.heap.detachedContexts += 1;
  const d = diffSnapshots(a, b);
  const text = d.format();
  assert.match(text, /^ {2}new +\S+ \S+ +\S+ \S+ +\+200 KiB/m);
  assert.doesNotMatch(text, /^ {2}old /m, 'a 20 KiB change is under the default 64 KiB');
  assert.match(text, /detached contexts +0 +1 +\+1/, 'a count shows when it changes at all');
  assert.deepEqual(d.changedSpaces(), ['new']);
  assert.match(d.format({ threshold: '16k' }), /^ {2}old /m);
  assert.match(d.format({ all: true }), /^ {2}read-only /m);
  assert.throws(() => d.format({ threshold: 'lots' }), /threshold: 'lots' is not a size/);
  assert.throws(() => diffSpaces(() => 1, { threshold: 'x' }), /not a size/);
});
