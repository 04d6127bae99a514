// Shared by the benchmarks: timing commands, medians, ratios, writing results.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cli = join(root, 'dist', 'cli.js');

/** Median of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs a command once, returns wall time in ms (throws if it fails). */
export function timeCommand(argv, opts = {}) {
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: opts.stdio ?? ['ignore', 'ignore', 'pipe'], cwd: opts.cwd ?? root, env: opts.env ?? process.env, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

/** Median, minimum and maximum of numbers: a figure and its spread over rounds. */
export function spread(xs) {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * The ratio of two interleaved series (round i of `xs` against round i of `base`): the ratio of
 * their medians, and the min-max of the per-round ratios as its spread.
 */
export function ratioSpread(xs, base) {
  const per = xs.map((v, i) => v / base[i]);
  const r = (v) => Math.round(v * 1000) / 1000;
  return { ratio: r(median(xs) / median(base)), ratioMin: r(Math.min(...per)), ratioMax: r(Math.max(...per)) };
}

/**
 * Times several variants of a workload, interleaved (A B C A B C …) so that drift on a shared
 * machine hits them alike; returns each variant's median ms with its min-max, and its ratio to
 * the first with the min-max of the per-round ratios.
 */
export function compare(variants, reps = 5) {
  const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let i = 0; i < reps; i++) {
    for (const [name, run] of Object.entries(variants)) times[name].push(run());
  }
  const names = Object.keys(variants);
  const base = times[names[0]];
  const r1 = (v) => Math.round(v * 10) / 10;
  return Object.fromEntries(names.map((n) => {
    const s = spread(times[n]);
    return [n, { medianMs: r1(s.median), minMs: r1(s.min), maxMs: r1(s.max), ...ratioSpread(times[n], base), runsMs: times[n].map((v) => Math.round(v)) }];
  }));
}

/**
 * Writes bench/results/<tool>.json (with the machine's 5-minute load average) and prints where. `withSpread`: the rows' figures carry their
 * min-max over rounds (the README's table says which tools' do not yet).
 */
export function writeResults(tool, rows, figures, { withSpread = false } = {}) {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${tool}.json`);
  writeFileSync(path, JSON.stringify({ tool, node: process.version, date: new Date().toISOString(), loadAverage: +loadavg()[1].toFixed(1), withSpread, rows, figures }, null, 2) + '\n');
  console.log(`wrote ${path}`);
}

/**
 * "x1.02" from a ratio; "x1.02 (0.99-1.05)" from { ratio, ratioMin, ratioMax } (what compare()
 * and ratioSpread() give): the median and its spread over rounds, so a figure is not a lucky run.
 */
export const x = (r) => (typeof r === 'number'
  ? `x${r.toFixed(2)}`
  : `x${r.ratio.toFixed(2)} (${r.ratioMin.toFixed(2)}-${r.ratioMax.toFixed(2)})`);

/** "4.37%" from a number; "4.37% (3.9-5.1)" from { median, min, max }. */
export const pct = (v, digits = 2) => (typeof v === 'number'
  ? `${v.toFixed(digits)}%`
  : `${v.median.toFixed(digits)}% (${v.min.toFixed(digits - 1)}-${v.max.toFixed(digits - 1)})`);
