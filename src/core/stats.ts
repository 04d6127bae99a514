import { formatDuration } from './units.js';

/** A least-squares line through (x, y) points: slope, intercept and R². */
export interface Fit {
  slope: number;
  intercept: number;
  r2: number;
}

/** Fits y = slope·x + intercept by least squares; R² is 0 when y does not vary. */
export function linearFit(xs: ArrayLike<number>, ys: ArrayLike<number>): Fit {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return { slope: 0, intercept: n ? ys[0]! : 0, r2: 0 };
  let sx = 0, sy = 0;
  for (let i = 0; i < n; i++) { sx += xs[i]!; sy += ys[i]!; }
  const mx = sx / n, my = sy / n;
  let sxx = 0, sxy = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx, dy = ys[i]! - my;
    sxx += dx * dx; sxy += dx * dy; syy += dy * dy;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const r2 = sxx === 0 || syy === 0 ? 0 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept: my - slope * mx, r2 };
}

/** Start, minimum, peak and end of a series of values taken at times `ts` (ms). */
export interface SeriesSummary {
  start: number;
  min: number;
  minT: number;
  peak: number;
  peakT: number;
  end: number;
  /** Least-squares slope in units per second. */
  slopePerSec: number;
  r2: number;
  /** Number of values summarised. */
  samples: number;
  /** Time from the first value to the last (ms). */
  spanMs: number;
  /**
   * A plain word on the trend: growing, shrinking, grew-then-levelled, flat; too-few-samples
   * when there are fewer than {@link MIN_TREND_SAMPLES} values, too few to tell one from another.
   */
  trend: 'growing' | 'shrinking' | 'grew-then-levelled' | 'flat' | 'too-few-samples';
}

/**
 * The fewest values a trend word is given for: a line through 2 points always fits (R² 1), and
 * the last third, which tells "kept growing" from "levelled off", needs 2 points of its own.
 */
export const MIN_TREND_SAMPLES = 6;

/**
 * Summarises a memory series. "growing" means the least-squares line explains most of the
 * variation (R² ≥ 0.6), its rise over the run is over 1 MiB and 5% of the start, and the
 * last third still rises; a series that rose but whose last third is flat "grew then levelled".
 */
export function summarizeSeries(ts: ArrayLike<number>, vs: ArrayLike<number>): SeriesSummary | null {
  const n = Math.min(ts.length, vs.length);
  if (n === 0) return null;
  let min = Infinity, minT = 0, peak = -Infinity, peakT = 0;
  for (let i = 0; i < n; i++) {
    const v = vs[i]!;
    if (v < min) { min = v; minT = ts[i]!; }
    if (v > peak) { peak = v; peakT = ts[i]!; }
  }
  const xs = Array.from({ length: n }, (_, i) => ts[i]! / 1000);
  const ys = Array.from({ length: n }, (_, i) => vs[i]!);
  const fit = linearFit(xs, ys);
  const start = ys[0]!, end = ys[n - 1]!;
  const duration = xs[n - 1]! - xs[0]!;
  const threshold = Math.max(1024 * 1024, 0.05 * Math.abs(start));
  const rise = fit.slope * duration;
  let trend: SeriesSummary['trend'] = 'flat';
  if (n < MIN_TREND_SAMPLES) trend = 'too-few-samples';
  else if (Math.abs(rise) > threshold && fit.r2 >= 0.6) {
    if (rise < 0) trend = 'shrinking';
    else {
      const k = Math.floor((2 * n) / 3);
      const tail = linearFit(xs.slice(k), ys.slice(k));
      const tailRise = tail.slope * (xs[n - 1]! - xs[k]!);
      trend = tailRise > threshold / 3 ? 'growing' : 'grew-then-levelled';
    }
  } else if (end - start > threshold) {
    trend = 'grew-then-levelled';
  }
  return { start, min, minT, peak, peakT, end, slopePerSec: fit.slope, r2: fit.r2, samples: n, spanMs: ts[n - 1]! - ts[0]!, trend };
}

/** The plain sentence for a trend word; with the summary, too few samples says how many over how long. */
export function trendSentence(trend: SeriesSummary['trend'], s?: Pick<SeriesSummary, 'samples' | 'spanMs'>): string {
  switch (trend) {
    case 'too-few-samples':
      return `${s ? `${s.samples} sample${s.samples === 1 ? '' : 's'} over ${formatDuration(s.spanMs)}: ` : ''}too few for a verdict on the trend (${MIN_TREND_SAMPLES} needed)`;
    case 'growing': return 'memory kept growing to the end: look for a leak';
    case 'shrinking': return 'memory shrank over the run';
    case 'grew-then-levelled': return 'memory grew, then levelled off';
    default: return 'memory stayed flat';
  }
}
