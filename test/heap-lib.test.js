// The heap library: traceHeap, startHeap, snapshots and their diff, live objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { traceHeap, startHeap, heapSnapshot, stopHeapSnapshots, liveObjects } from '../dist/index.js';
import { keepForty, dropFour, keepFourHundred, kept } from './fixtures/heap/accuracy.js';
import { makeWidgets, churn, shelf } from './fixtures/heap/widgets.js';

const fx = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'heap');
const MiB = 1024 * 1024;
const lineOf = (file, text) => readFileSync(join(fx, file), 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;

test('traceHeap: live bytes on the allocating line, the tool\'s own apart', async () => {
  const r = await traceHeap(() => { keepForty(); dropFour(); keepFourHundred(); });
  const top = r.top(5);
  assert.ok(top[0].where.endsWith(`accuracy.js:${lineOf('accuracy.js', 'function keepForty')}`), top[0].where);
  assert.ok(Math.abs(top[0].live - 40 * MiB) < 2 * MiB);
  assert.ok(!top.some((s) => s.fn === 'dropFour' && s.live > 256 * 1024), 'dropped bytes are not live');
  assert.ok(r.totals.live > 39 * MiB && r.totals.live < 44 * MiB, String(r.totals.live));
  assert.ok(!top.some((s) => /dist\//.test(s.where)), 'no site in memtrace\'s own files');
  assert.equal(typeof r.totals.toolLive, 'number');
  assert.match(r.format(), /keepForty/);
  kept.length = 0;
});

test('traceHeap with all: allocations that were collected are counted', async () => {
  const r = await traceHeap(() => { dropFour(); }, { all: true });
  const s = r.top(1)[0];
  assert.equal(s.fn, 'dropFour');
  assert.ok(s.alloc > 2 * MiB && s.alloc < 6 * MiB, String(s.alloc));
  assert.equal(r.live, undefined);
});

test('a callback that throws: the profiler stops cleanly and the error is rethrown', async () => {
  const boom = new Error('boom');
  await assert.rejects(traceHeap(() => { throw boom; }), (e) => e === boom);
  await assert.rejects(traceHeap(async () => { await null; throw boom; }, { exact: true }), (e) => e === boom);
  const r = await traceHeap(() => keepFourHundred());
  assert.ok(r.totals.live > 0, 'a later trace works');
  kept.length = 0;
});

test('a bad interval is a UsageError; two profilers at once are refused', async () => {
  await assert.rejects(traceHeap(() => {}, { interval: 0 }), { name: 'UsageError' });
  const t = startHeap();
  await assert.rejects(traceHeap(() => {}), { name: 'UsageError' });
  const r = t.stop();
  assert.equal(r.mode, 'sampled');
});

test('startHeap/stop over a long span', async () => {
  const t = startHeap({ interval: '16k' });
  makeWidgets(20000);
  await new Promise((r) => setTimeout(r, 10));
  const r = t.stop();
  assert.equal(r.intervalBytes, 16384);
  const mine = r.top(10).filter((s) => s.where.includes('widgets.js')).reduce((a, s) => a + s.live, 0);
  assert.ok(mine > 0.8 * r.totals.live, JSON.stringify(r.top(4)));
  shelf.length = 0;
});

test('heap snapshots: b.diff(a) shows per line what was added and freed', async () => {
  const a = await heapSnapshot();
  makeWidgets(60000); // ~4 MB sampled at 32 KiB: a 1 MiB bound well below the estimate (30 000 read 1.02 MB once)
  churn(200);
  const b = await heapSnapshot();
  shelf.length = 0;
  const c = await heapSnapshot();
  stopHeapSnapshots();
  const added = b.diff(a);
  const row = added.rows.find((r) => r.fn === 'makeWidgets');
  assert.ok(row && row.added > 1 * MiB && row.freed === 0, JSON.stringify(row));
  assert.ok(!added.rows.some((r) => r.fn === 'churn' && r.net > 256 * 1024), 'collected churn is not added');
  const freed = c.diff(b).rows.find((r) => r.fn === 'makeWidgets');
  assert.ok(freed && freed.freed > 1 * MiB && freed.net < 0, JSON.stringify(freed));
  assert.match(added.format(), /makeWidgets/);
});

test('liveObjects counts by constructor; traceHeap objects+exact says where the new ones came from', async () => {
  const before = liveObjects();
  makeWidgets(1000);
  const after = liveObjects();
  assert.ok(after.get('Widget') - (before.get('Widget') ?? 0) >= 1000);
  shelf.length = 0;
  const r = await traceHeap(() => makeWidgets(500), { exact: true, objects: true });
  const g = r.objects.grew.find((x) => x.name === 'Widget');
  assert.ok(g && g.delta >= 500, JSON.stringify(r.objects.grew.slice(0, 3)));
  assert.ok(g.sites[0].where.includes('widgets.js'), JSON.stringify(g.sites));
  assert.match(r.format(), /Widget: \d+ -> \d+/);
  shelf.length = 0;
});
