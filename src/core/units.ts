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
  s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000,
};

/** Parses a size as people write it ("4096", "64k", "1.5MiB", "2G"; binary multiples) into bytes. */
export function parseBytes(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$/.exec(String(text));
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${what}: '${text}' is not a size (examples: 4096, 64k, 1.5MiB)`);
  }
  return Math.round(Number(m[1]) * unit);
}

/** Parses a duration as people write it ("100ms", "0.5s", "2m"; a bare number is milliseconds) into ms. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Zµ]*)\s*$/.exec(String(text));
  const unit = m ? TIME_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${what}: '${text}' is not a duration (examples: 100ms, 0.5s, 2m)`);
  }
  return Number(m[1]) * unit;
}

/** Parses a duration that must be strictly positive (an interval). */
export function parseInterval(text: string, what = '--interval'): number {
  const ms = parseDuration(text, what);
  if (!(ms > 0)) throw new UsageError(`${what}: '${text}' must be greater than zero`);
  return ms;
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
