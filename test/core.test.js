import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBytes, parseDuration, formatBytes, formatDuration } from '../dist/index.js';
import { parseInterval } from '../dist/core/units.js';
import { linearFit, summarizeSeries } from '../dist/core/stats.js';

test('sizes parse as people write them', () => {
  assert.equal(parseBytes('4096'), 4096);
  assert.equal(parseBytes('64k'), 65536);
  assert.equal(parseBytes('64KiB'), 65536);
  assert.equal(parseBytes('1.5MiB'), 1.5 * 1024 * 1024);
  assert.equal(parseBytes('2G'), 2 * 1024 ** 3);
  assert.throws(() => parseBytes('abc', '--trigger'), /--trigger: 'abc' is not a size/);
  assert.throws(() => parseBytes('-1k'), /is not a size/);
});

test('durations parse as people write them', () => {
  assert.equal(parseDuration('100ms'), 100);
  assert.equal(parseDuration('0.5s'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('250'), 250);
  assert.equal(parseDuration('500us'), 0.5);
  assert.throws(() => parseDuration('soon'), /is not a duration/);
  assert.throws(() => parseInterval('0'), /must be greater than zero/);
});

test('formatting', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(-50 * 1024 * 1024, true), '-50.0 MiB');
  assert.equal(formatBytes(4096, true), '+4.00 KiB');
  assert.equal(formatDuration(12.34), '12.3 ms');
  assert.equal(formatDuration(4200), '4.20 s');
  assert.equal(formatDuration(185_000), '3m 05s');
});

test('least squares and the trend word', () => {
  const f = linearFit([0, 1, 2, 3], [1, 3, 5, 7]);
  assert.equal(f.slope, 2);
  assert.equal(f.intercept, 1);
  assert.equal(f.r2, 1);
  const ts = Array.from({ length: 30 }, (_, i) => i * 1000);
  const MB = 1024 * 1024;
  assert.equal(summarizeSeries(ts, ts.map((_, i) => 100 * MB + i * 5 * MB)).trend, 'growing');
  assert.equal(summarizeSeries(ts, ts.map((_, i) => 100 * MB + Math.min(i, 10) * 10 * MB)).trend, 'grew-then-levelled');
  assert.equal(summarizeSeries(ts, ts.map((_, i) => 100 * MB + (i % 2) * MB / 4)).trend, 'flat');
  assert.equal(summarizeSeries(ts, ts.map((_, i) => 300 * MB - i * 5 * MB)).trend, 'shrinking');
  const s = summarizeSeries([0, 100, 200], [5, 9, 7]);
  assert.deepEqual([s.start, s.min, s.peak, s.peakT, s.end], [5, 5, 9, 100, 7]);
});
