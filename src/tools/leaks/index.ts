// The library: findLeaks(iteration) runs the suspect action for warm-up + measured iterations in
// this process, takes the snapshots here, and has them compared in a process of its own.
// assertNoLeaks(iteration) throws with the report as its message (node:test, vitest).
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Measurer, settleAfterGc, type BoundaryRecord } from '../../runtime/leaks-measure.js';
import type { LeakAnalysis } from './detect.js';
import { formatAnalysis } from './format.js';

export type { Leak, LeakAnalysis, GrowingGroup, NonLeak } from './detect.js';
export { analyzeSnapshots } from './analyze.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'analyze-child.js');

/** Options of {@link findLeaks}. */
export interface FindLeaksOptions {
  /** Runs before measuring (caches fill, code warms up); default 3. */
  warmup?: number;
  /** Measured runs; default 5. */
  iterations?: number;
}

/** The verdict of {@link findLeaks}. */
export class LeaksResult {
  constructor(readonly analysis: LeakAnalysis, readonly warmup: number, readonly iterations: number, readonly figures: BoundaryRecord[]) {}
  /** The leaks found, biggest first (empty when none). */
  get leaks(): LeakAnalysis['leaks'] { return this.analysis.leaks; }
  /** The report as text: leaks with slope, site and path, then what was considered and why. */
  format(): string { return formatAnalysis(this.analysis, { warmup: this.warmup, iterations: this.iterations, figures: this.figures }); }
  /** The verdict as JSON. */
  toJSON(): Record<string, unknown> {
    return { warmup: this.warmup, iterations: this.iterations, leaks: this.analysis.leaks, considered: this.analysis.considered, figures: this.figures };
  }
}

/**
 * Runs `iteration` (sync or async) `warmup` times, then `iterations` times with a full GC and a
 * heap snapshot after each, and finds what grew in every measured iteration.
 */
export async function findLeaks(iteration: () => unknown, opts: FindLeaksOptions = {}): Promise<LeaksResult> {
  const warmup = opts.warmup ?? 3;
  const iterations = opts.iterations ?? 5;
  if (typeof iteration !== 'function') throw new TypeError('findLeaks(iteration): iteration must be a function');
  const measurer = new Measurer({ warmup, iterations });
  const figures: BoundaryRecord[] = [];
  try {
    const first = measurer.begin();
    if (first) figures.push(first);
    for (let i = 0; i < warmup + iterations; i++) {
      await iteration();
      // Not before the last boundary: allocation tracking is on in the last iteration, and on
      // node 24 an event-loop turn there lost the allocation sites of about half the runs.
      if (i + 1 >= warmup && i + 1 < warmup + iterations) await settleAfterGc();
      const rec = measurer.iterationEnded();
      if (rec && rec.phase === 'measure') figures.push(rec);
    }
    const inlineMaps = measurer.inlineSourceMaps();
    const snaps = figures.filter((f) => f.snapshot);
    // The job goes in a file: inline source maps (vite, tsx) can pass the argv size limit.
    const job = join(measurer.dir, 'job.json');
    writeFileSync(job, JSON.stringify({ paths: snaps.map((f) => f.snapshot), positions: snaps.map((f) => f.k), inlineMaps, cwd: process.cwd() }));
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [CHILD, job],
        { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(stderr.trim() || err.message)) : resolve(stdout)));
    });
    return new LeaksResult(JSON.parse(out) as LeakAnalysis, warmup, iterations, figures);
  } finally {
    measurer.stop();
    rmSync(measurer.dir, { recursive: true, force: true });
  }
}

/** Like {@link findLeaks}, and throws an Error whose message is the report when something leaks. */
export async function assertNoLeaks(iteration: () => unknown, opts: FindLeaksOptions = {}): Promise<LeaksResult> {
  const result = await findLeaks(iteration, opts);
  if (result.leaks.length) {
    const err = new Error(result.format());
    err.name = 'LeakError';
    throw err;
  }
  return result;
}
