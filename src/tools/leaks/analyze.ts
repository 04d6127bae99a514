// From snapshot files to a verdict: load each (the snapshot engine), measure, detect. Runs in
// the memtrace process or a process of its own, never in the program measured.
import { relative } from 'node:path';
import { detect, type LeakAnalysis } from './detect.js';
import { HeapGraph } from './graph.js';
import { maxId, measure, type Measurement } from './measure.js';

/** Options of {@link analyzeSnapshots}. */
export interface AnalyzeOptions {
  /** Iteration of each snapshot (default 0, 1, 2…). */
  positions?: number[];
  inlineMaps?: Record<string, string>;
  sourceMaps?: boolean;
  /** Called before each snapshot is read. */
  progress?: (index: number, path: string) => void;
  /** Paths in the verdict relative to this directory. */
  cwd?: string;
}

/** Reads snapshots of one process (oldest first, at least two) and finds what leaks between them. */
export async function analyzeSnapshots(paths: string[], opts: AnalyzeOptions = {}): Promise<LeakAnalysis> {
  const positions = opts.positions ?? paths.map((_, i) => i);
  const ms: Measurement[] = [];
  let bornAfter = Infinity;
  let last: HeapGraph | undefined;
  for (const [k, p] of paths.entries()) {
    opts.progress?.(k, p);
    const g = await HeapGraph.load(p);
    if (k === 0) bornAfter = maxId(g);
    ms.push(measure(g, bornAfter));
    last = g;
  }
  const result = detect(ms, positions, last!, { bornAfter, inlineMaps: opts.inlineMaps, sourceMaps: opts.sourceMaps });
  if (opts.cwd) {
    const rel = (s: string | null) => {
      if (!s || !s.startsWith('/')) return s;
      const r = relative(opts.cwd!, s);
      return r.startsWith('..') ? s : r;
    };
    for (const l of result.leaks) for (const g of l.groups) {
      g.site = rel(g.site);
      g.stack = g.stack.map((f) => f.replace(/\(([^()]+)\)$/, (_m, loc: string) => `(${rel(loc)})`));
    }
  }
  return result;
}
