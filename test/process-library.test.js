import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorProcess, mark } from '../dist/index.js';
import { readJsonl, root, tmp } from './helpers.js';

const MB = 1024 * 1024;

test('monitorProcess samples while the main thread is stuck in synchronous code', async () => {
  const out = join(tmp(), 'busy.jsonl');
  const m = await monitorProcess({ intervalMs: 10, output: out });
  const keep = [];
  const t0 = performance.now();
  while (performance.now() - t0 < 600) keep.push(new Array(64).fill(keep.length));
  m.mark('after the busy loop');
  const r = await m.stop();
  const samples = readJsonl(out).slice(1).filter((x) => typeof x.rss === 'number');
  const during = samples.filter((s) => s.t > 50 && s.t < 600);
  // A sampler on the main thread would take 0 samples here; the sampling thread keeps going
  // (fewer than 55 when the machine is loaded, but never a long gap).
  assert.ok(during.length >= 15, `${during.length} samples during a 600 ms busy loop at 100 Hz`);
  const gaps = during.slice(1).map((s, i) => s.t - during[i].t);
  assert.ok(Math.max(...gaps) < 250, `a gap of ${Math.max(...gaps)} ms`);
  assert.ok(r.rss.peak - r.rss.start > 20 * MB, `grew ${(r.rss.peak - r.rss.start) / MB} MB`);
  assert.equal(r.marks.length, 1);
  assert.equal(r.output, out);
  assert.match(r.format(), /memtrace process/);
  assert.ok(samples.some((s) => typeof s.heapUsed === 'number'), 'no V8 figures in any sample');
  keep.length = 0;
});

test('monitorProcess: marks land between the samples around them; mark() reaches the innermost monitor', async () => {
  const out = join(tmp(), 'marks.jsonl');
  const m = await monitorProcess({ intervalMs: 20 });
  const held = [];
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 120));
    mark(`alloc ${i}`);
    held.push(Buffer.alloc(30 * MB, 1));
  }
  await new Promise((r) => setTimeout(r, 120));
  const r = await m.stop();
  assert.equal(r.output, undefined, 'no output asked: the temporary log is removed');
  assert.deepEqual(r.marks.map((x) => x.label), ['alloc 0', 'alloc 1', 'alloc 2']);
  const rows = r.report.table.rows;
  // In the CSV rows (time order), the array buffers after each mark are 30 MB above those
  // before it (RSS itself may fall meanwhile, as earlier tests' garbage is collected).
  const AB = r.report.table.columns.indexOf('arrayBuffers');
  for (const label of ['alloc 0', 'alloc 1', 'alloc 2']) {
    const i = rows.findIndex((row) => row[15] === label);
    const before = rows.slice(0, i).filter((row) => row[AB] !== null).at(-1);
    // The last sample before the next mark (or the end), 120 ms later.
    const nextMark = rows.findIndex((row, k) => k > i && row[15] !== null);
    const later = rows.slice(i + 1, nextMark < 0 ? undefined : nextMark).filter((row) => row[AB] !== null).at(-1);
    const grew = later[AB] - before[AB];
    assert.ok(Math.abs(grew - 30 * MB) < 2 * MB, `${label}: ${grew / MB} MB`);
  }
  void out; held.length = 0;
});

test('monitorProcess: a program that exits without stop() still leaves a complete log', () => {
  const out = join(tmp(), 'exit.jsonl');
  const code = `
    import { monitorProcess } from ${JSON.stringify(join(root, 'dist/index.js'))};
    const m = await monitorProcess({ intervalMs: 20, output: ${JSON.stringify(out)} });
    const keep = []; for (let i = 0; i < 2e5; i++) keep.push({ i });
    await new Promise((r) => setTimeout(r, 300));
    m.mark('last words');
    process.exit(3);`;
  const script = join(tmp(), 'exits.mjs');
  writeFileSync(script, code);
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  assert.equal(r.status, 3, r.stderr);
  const records = readJsonl(out).slice(1);
  assert.ok(records.filter((x) => x.rss).length >= 10);
  assert.ok(records.some((x) => x.mark === 'last words'));
});

test('monitorProcess: bad options are UsageErrors', async () => {
  await assert.rejects(monitorProcess({ intervalMs: 0 }), /intervalMs must be greater than zero/);
  // Longer than a timer holds (2³¹ ms), or finer than the sampler paces: refused with the range.
  await assert.rejects(monitorProcess({ intervalMs: 2 ** 31 }), /intervalMs: '2147483648' is too long \(allowed: 1ms to 24d\)/);
  await assert.rejects(monitorProcess({ intervalMs: 0.0001 }), /intervalMs: '0.0001' is too short/);
  await assert.rejects(monitorProcess({ intervalMs: NaN }), /intervalMs: NaN is not a number/);
  await assert.rejects(monitorProcess({ output: '/nonexistent/x.jsonl' }), /cannot write/);
  await assert.rejects(monitorProcess({ pid: 999999 }), /no process with PID 999999/);
});

test('sampleLine writes a sample record exactly as JSON.stringify does, and the ring hands each reading its nearest V8 figure', async () => {
  const { sampleLine } = await import('../dist/tools/process/sampler.js');
  const { SLOT, readRing } = await import('../dist/tools/process/shared.js');
  const base = { t: 1234.567, rss: 20 * MB, anon: 12 * MB, file: 8 * MB, shmem: 0, swap: 4096, faults: 120, majfaults: 0, cpu: 3.5 };
  for (const r of [
    base,
    { ...base, pss: 1e7, uss: 9.5e6 },
    { ...base, heapUsed: 4e6, heapTotal: 6e6, external: 1.5e6, arrayBuffers: 1e5 },
    { ...base, cpu: NaN, t: 0.001, procs: [[10, 4096], [11, 8192]] },
    { ...base, pss: 1, uss: 2, heapUsed: 3, heapTotal: 4, external: 5, arrayBuffers: 6, procs: [[1, 2]] },
  ]) assert.equal(sampleLine(r), JSON.stringify(r));

  // A batch of the helper's readings: every line after the first is what a full sample of that
  // reading writes (the same sampler state, status and stat not due), V8 part included.
  const { TreeSampler, statmLines, v8Part } = await import('../dist/tools/process/sampler.js');
  const child = spawn('sleep', ['5']);
  await new Promise((r) => child.once('spawn', r));
  try {
    const readings = Float64Array.from([0, 1, 2, 3].flatMap((i) => [5000 + i, 5000 + 300 * i, 4000 + 7 * i]));
    const full = new TreeSampler(child.pid);
    const batch = new TreeSampler(child.pid);
    const v8 = { heapUsed: 4e6, heapTotal: 6e6, external: 1.5e6, arrayBuffers: 1e5 };
    const expected = [];
    for (let i = 0; i < 4; i++) {
      const rec = full.sample(readings[3 * i] - 4000, { resident: readings[3 * i + 1], shared: readings[3 * i + 2] }).record;
      if (i % 2) Object.assign(rec, v8);
      expected.push(sampleLine(rec) + '\n');
    }
    const first = batch.sample(1000, { resident: readings[1], shared: readings[2] }).record;
    assert.equal(sampleLine(first) + '\n', expected[0]);
    const lines = statmLines(first, readings, 1, Infinity, (e) => e - 4000, (e) => ((e - 5000) % 2 ? v8Part(v8) : ''));
    assert.equal(lines.text, expected.slice(1).join(''));
    assert.equal(lines.count, 3);
    assert.equal(lines.lastT, 1003);
    // Times in ms to the µs, as the log has them: the digits are JavaScript's.
    const times = [0, 0.001, 0.01, 0.1, 1.5, 12.34, 98.187, 100, 999.999, 1234567.891, 2e9 + 0.5, 86400000.07];
    const many = Float64Array.from(times.flatMap((ms, i) => [ms, 9000 + i, 100 + i]));
    const got = statmLines(first, many, 0, Infinity, (e) => Math.round(e * 1000) / 1000, () => '').text.split('\n');
    times.forEach((ms, i) => {
      const rec = { ...first, t: ms, rss: (9000 + i) * 4096, anon: (8900) * 4096, file: Math.max(0, (100 + i) * 4096 - first.shmem) };
      assert.equal(got[i], sampleLine(rec));
    });
    full.close();
    batch.close();
  } finally {
    child.kill();
  }

  // Figures published faster than the ring is read: the last RING come back, oldest first.
  const shared = new SharedArrayBuffer(SLOT.BYTES);
  const i32 = new Int32Array(shared);
  const f64 = new Float64Array(shared, SLOT.F64_OFFSET);
  const publish = (k) => {
    const o = (k % SLOT.RING) * 5;
    i32[SLOT.SEQ + (k % SLOT.RING)] += 2;
    f64.set([1000 + 10 * k, k, k, k, k], o);
    i32[SLOT.COUNT] = k + 1;
  };
  for (let k = 0; k < 3; k++) publish(k);
  let got = readRing(shared, 0);
  assert.deepEqual(got.figures.map((f) => f.t), [1000, 1010, 1020]);
  for (let k = 3; k < 3 + 2 * SLOT.RING; k++) publish(k);
  got = readRing(shared, got.count);
  assert.equal(got.figures.length, SLOT.RING);
  assert.deepEqual(got.figures.map((f) => f.v.heapUsed), Array.from({ length: SLOT.RING }, (_, i) => 3 + SLOT.RING + i));
  // An entry caught mid-write (odd counter) is skipped.
  i32[SLOT.SEQ + 0] += 1;
  assert.equal(readRing(shared, got.count - SLOT.RING).figures.length, SLOT.RING - 1);
});
