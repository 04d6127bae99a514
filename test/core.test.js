import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBytes, parseDuration, formatBytes, formatDuration } from '../dist/index.js';
import { checkInterval, parseCount, parseInterval } from '../dist/core/units.js';
import { linearFit, summarizeSeries, trendSentence } from '../dist/core/stats.js';

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

test('every size and duration is bounded: one line naming the flag and the allowed range', () => {
  // A timer holds 2³¹−1 ms at most and turns a longer one into 1 ms: 600 h must be refused.
  assert.throws(() => parseInterval('600h'), /^UsageError: --interval: '600h' is too long \(allowed: 1ms to 24d\)$/);
  assert.equal(parseInterval('24d'), 24 * 86_400_000);
  assert.throws(() => parseInterval('0.0001ms'), /--interval: '0.0001ms' is too short \(allowed: 1ms to 24d\)/);
  assert.throws(() => parseInterval('0.5ms'), /too short/);
  assert.equal(parseInterval('0.5ms', '--interval', { min: 0.1 }), 0.5);
  assert.throws(() => parseInterval('2s', '--every', { max: 1000 }), /--every: '2s' is too long \(allowed: 1ms to 1s\)/);
  assert.throws(() => parseDuration('0.0001ms', '--wait'), /--wait: '0.0001ms' is below 1µs, the finest memtrace measures/);
  assert.equal(parseDuration('0', '--wait'), 0);
  assert.throws(() => parseDuration('NaN'), /is not a duration/);
  assert.throws(() => parseDuration('1e400'), /is not a duration/);
  assert.throws(() => parseDuration('99999999999999999999999d'), /is too long/);
  // Sizes: an overflow (2⁷⁴ bytes) is refused, not wrapped; a fraction of a byte too.
  assert.throws(() => parseBytes('17179869184t', '--min-size'), /^UsageError: --min-size: '17179869184t' is too large \(allowed: 0 to 128t\)$/);
  assert.throws(() => parseBytes('0.3', '--min-size'), /--min-size: '0.3' is less than one byte/);
  assert.throws(() => parseBytes('1g', '--interval', { min: 1, max: 1024 ** 2 }), /--interval: '1g' is too large \(allowed: 1 to 1m\)/);
  assert.throws(() => parseBytes('0', '--interval', { min: 1 }), /--interval: '0' is too small/);
  assert.equal(parseBytes('128t'), 128 * 1024 ** 4);
  // Counts (--top): whole numbers in range.
  assert.equal(parseCount('10', '--top'), 10);
  assert.throws(() => parseCount('abc', '--top'), /--top: 'abc' is not a whole number/);
  assert.throws(() => parseCount('0', '--top', { min: 1 }), /--top: '0' is too small \(allowed: 1 to 2147483647\)/);
  // Through an API: a number in ms.
  assert.equal(checkInterval(10), 10);
  assert.throws(() => checkInterval(2 ** 31), /intervalMs: '2147483648' is too long/);
  assert.throws(() => checkInterval(NaN), /intervalMs: NaN is not a number/);
  assert.throws(() => checkInterval(0), /intervalMs must be greater than zero/);
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
  // Too few samples: no verdict (2 points always fit a line, R² 1: it said "stayed flat").
  const short = summarizeSeries([0, 100], [21 * MB, 109 * MB]);
  assert.equal(short.trend, 'too-few-samples');
  assert.match(trendSentence(short.trend, short), /^2 samples over 100\.0 ms: too few for a verdict on the trend \(6 needed\)$/);
  assert.equal(summarizeSeries([0, 100, 200, 300, 400], [1, 2, 3, 4, 5].map((i) => i * 30 * MB)).trend, 'too-few-samples');
  assert.equal(summarizeSeries([0, 100, 200, 300, 400, 500], [1, 2, 3, 4, 5, 6].map((i) => i * 30 * MB)).trend, 'growing');
  const s = summarizeSeries([0, 100, 200], [5, 9, 7]);
  assert.deepEqual([s.start, s.min, s.peak, s.peakT, s.end], [5, 5, 9, 100, 7]);
});
