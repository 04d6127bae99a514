import { UsageError } from './errors.js';

const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};

const TIME_UNITS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, '': 1,
  s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000,
};

/** Inclusive bounds on a value the user gives (bytes or ms); the defaults are given with each parser. */
export interface Bounds {
  /** Smallest allowed value (a value of 0 is allowed only when min is 0). */
  min?: number;
  /** Largest allowed value. */
  max?: number;
}

/**
 * The longest duration memtrace accepts (24 days): timers (setTimeout, setInterval) hold at most
 * 2³¹−1 ms (24.8 days) and silently turn a longer one into 1 ms.
 */
export const MAX_DURATION_MS = 24 * 86_400_000;
/** The finest duration memtrace accepts, 1 µs: a shorter non-zero one would read "every 0 µs". */
export const MIN_DURATION_MS = 0.001;
/** The largest size memtrace accepts, 128 TiB: the whole user address space of x86-64 Linux. */
export const MAX_BYTES = 128 * 1024 ** 4;
/** Bounds of a sampling interval: 1 ms (1 kHz, the fastest a sampler or timer paces) to 24 days. */
export const INTERVAL_BOUNDS: Required<Bounds> = { min: 1, max: MAX_DURATION_MS };

/** A duration in its largest whole unit, as a user would type it: "1ms", "24d", "1µs", "1.5s". */
export function compactDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [name, unit] of [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000], ['ms', 1], ['µs', 1e-3]] as const) {
    const n = ms / unit;
    if (Math.abs(n) >= 1 && Math.abs(n - Math.round(n)) < 1e-9) return `${Math.round(n)}${name}`;
  }
  return formatDuration(ms).replace(' ', '');
}

/** A size in its largest whole binary unit, as a user would type it: "64k", "128t", "4096". */
export function compactBytes(bytes: number): string {
  for (const [name, unit] of [['t', 1024 ** 4], ['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) {
    if (bytes !== 0 && bytes % unit === 0) return `${bytes / unit}${name}`;
  }
  return String(bytes);
}

function checkBounds(value: number, text: string, what: string, min: number, max: number, show: (v: number) => string, finest: number, time = false): number {
  const range = `allowed: ${show(min)} to ${show(max)}`;
  if (!Number.isFinite(value) || value > max) throw new UsageError(`${what}: '${text}' is too ${time ? 'long' : 'large'} (${range})`);
  if (value !== 0 && value < finest && min <= 0) throw new UsageError(`${what}: '${text}' is below ${show(finest)}, the finest memtrace measures (${range})`);
  if (value < min) throw new UsageError(`${what}: '${text}' is too ${time ? 'short' : 'small'} (${range})`);
  return value;
}

/**
 * Parses a size as people write it ("4096", "64k", "1.5MiB", "2G"; binary multiples) into whole
 * bytes, within `bounds` (default 0 to {@link MAX_BYTES}). Throws a one-line UsageError naming
 * `what` (the flag) and the allowed range for anything else: not a number, a negative, a
 * fraction of a byte, an overflow.
 */
export function parseBytes(text: string, what = 'size', bounds: Bounds = {}): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$/.exec(String(text));
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${what}: '${text}' is not a size (examples: 4096, 64k, 1.5MiB)`);
  }
  const raw = Number(m[1]) * unit;
  const bytes = Math.round(raw);
  const min = bounds.min ?? 0, max = bounds.max ?? MAX_BYTES;
  if (raw > 0 && bytes === 0) throw new UsageError(`${what}: '${text}' is less than one byte (allowed: ${compactBytes(min)} to ${compactBytes(max)})`);
  return checkBounds(bytes, text, what, min, max, compactBytes, 1);
}

/**
 * Parses a duration as people write it ("100ms", "0.5s", "2m", "1d"; a bare number is
 * milliseconds) into ms, within `bounds` (default 0 to {@link MAX_DURATION_MS}). A non-zero
 * value under 1 µs, a value outside the bounds or not a number: a one-line UsageError naming
 * `what` (the flag) and the allowed range.
 */
export function parseDuration(text: string, what = 'duration', bounds: Bounds = {}): number {
  return checkBounds(durationOf(text, what), text, what, bounds.min ?? 0, bounds.max ?? MAX_DURATION_MS, compactDuration, MIN_DURATION_MS, true);
}

function durationOf(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Zµ]*)\s*$/.exec(String(text));
  const unit = m ? TIME_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${what}: '${text}' is not a duration (examples: 100ms, 0.5s, 2m)`);
  }
  return Number(m[1]) * unit;
}

/**
 * Parses a duration that must be strictly positive (an interval), within `bounds`
 * (default {@link INTERVAL_BOUNDS}: 1 ms to 24 days).
 */
export function parseInterval(text: string, what = '--interval', bounds: Bounds = {}): number {
  return checkInterval(durationOf(text, what), what, bounds, text);
}

/**
 * Checks a duration given in ms through an API (not typed by a user), within `bounds` (default
 * {@link INTERVAL_BOUNDS}); throws a UsageError naming `what` and the allowed range.
 */
export function checkInterval(ms: number, what = 'intervalMs', bounds: Bounds = {}, text?: string): number {
  const min = bounds.min ?? INTERVAL_BOUNDS.min, max = bounds.max ?? INTERVAL_BOUNDS.max;
  const range = `allowed: ${compactDuration(min)} to ${compactDuration(max)}`;
  if (typeof ms !== 'number' || Number.isNaN(ms)) throw new UsageError(`${what}: ${String(ms)} is not a number of milliseconds (${range})`);
  if (!(ms > 0)) {
    throw new UsageError(text === undefined ? `${what} must be greater than zero (got ${ms}; ${range})` : `${what}: '${text}' must be greater than zero (${range})`);
  }
  return checkBounds(ms, text ?? String(ms), what, min, max, compactDuration, MIN_DURATION_MS, true);
}

/**
 * Parses a whole count ("10", "500"), within `bounds` (default 0 to 2³¹−1), e.g. for --top:
 * a one-line UsageError naming `what` and the allowed range for anything else.
 */
export function parseCount(text: string, what = 'count', bounds: Bounds = {}): number {
  if (!/^\s*\d+\s*$/.test(String(text))) throw new UsageError(`${what}: '${text}' is not a whole number`);
  return checkBounds(Number(text), String(text).trim(), what, bounds.min ?? 0, bounds.max ?? 2 ** 31 - 1, String, 1);
}

/** Formats bytes for people: "512 B", "4.0 KiB", "1.50 MiB"; signed when `signed` is set. */
export function formatBytes(bytes: number, signed = false): string {
  const sign = bytes < 0 ? '-' : signed && bytes > 0 ? '+' : '';
  let v = Math.abs(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  const digits = i === 0 ? 0 : v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${sign}${v.toFixed(digits)} ${units[i]}`;
}

/** Formats milliseconds for people: "850 µs", "12.3 ms", "4.20 s", "3m 05s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const a = Math.abs(ms);
  if (a < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (a < 1000) return `${ms.toFixed(a < 10 ? 2 : 1)} ms`;
  if (a < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(a / 60_000);
  const s = Math.round((a % 60_000) / 1000);
  return `${ms < 0 ? '-' : ''}${m}m ${String(s).padStart(2, '0')}s`;
}
