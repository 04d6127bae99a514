// Shared by the benchmarks: timing commands, medians, ratios, writing results.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
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

/**
 * Times several variants of a workload, interleaved (A B C A B C …) so that drift on a shared
 * machine hits them alike; returns each variant's median ms and its ratio to the first.
 */
export function compare(variants, reps = 5) {
  const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let i = 0; i < reps; i++) {
    for (const [name, run] of Object.entries(variants)) times[name].push(run());
  }
  const names = Object.keys(variants);
  const base = median(times[names[0]]);
  return Object.fromEntries(names.map((n) => [n, { medianMs: Math.round(median(times[n]) * 10) / 10, ratio: Math.round((median(times[n]) / base) * 1000) / 1000, runsMs: times[n].map((x) => Math.round(x)) }]));
}

/** Writes bench/results/<tool>.json and prints where. */
export function writeResults(tool, rows, figures) {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${tool}.json`);
  writeFileSync(path, JSON.stringify({ tool, node: process.version, date: new Date().toISOString(), rows, figures }, null, 2) + '\n');
  console.log(`wrote ${path}`);
}

/** "x1.02" from a ratio. */
export const x = (r) => `x${r.toFixed(2)}`;
