// The in-program half of `memtrace leaks`: at each iteration boundary a full GC and cheap
// figures (heap used, external, array buffers, RSS); heap snapshots from the end of warm-up on;
// and allocation tracking during the last measured iteration only (so the last snapshot carries
// the allocation stack of what that iteration left behind: tracking slows allocation ~x75), and
// heap snapshots written with v8.writeHeapSnapshot into a private directory. It analyses
// nothing: snapshots are read by the memtrace process (or a process of its own).
// Imports only `node:` modules and runtime/ siblings: it is loaded into the traced program.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { HeapInspector, fullGc } from './heap-inspector.js';
import { epochNow } from './marks.js';

/** Options of a measurement run. */
export interface MeasureConfig {
  warmup: number;
  iterations: number;
  /** Where snapshots go (a private directory is made when absent). */
  dir?: string;
  /** Learn allocation sites (allocation tracking during the last measured iteration); default true. */
  sites?: boolean;
  /** Take a snapshot at every measured boundary while the heap is below this (bytes); above, three only. */
  everySnapshotBelow?: number;
}

/** The figures of one iteration boundary. */
export interface BoundaryRecord {
  ev: 'iteration';
  /** 1-based iteration that just ended (0: the baseline before the first measured one, when there is no warm-up). */
  i: number;
  phase: 'warmup' | 'measure';
  /** Iterations measured so far (0 at the baseline). */
  k: number;
  epoch: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  /** The snapshot written at this boundary. */
  snapshot?: string;
  snapshotBytes?: number;
  snapshotMs?: number;
  gcMs?: number;
}

/**
 * A full GC, then one turn of the event loop: node tells async hooks that a resource died
 * (its `destroy`) on a later turn, so trackers keyed by async id (node:test's test resources,
 * APM agents' contexts) hold every awaited promise of a loop that never yields. Called before
 * a boundary, it lets them shrink as they would in the program's own life.
 */
export async function settleAfterGc(): Promise<void> {
  fullGc();
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Counts iterations and measures at their boundaries. */
export class Measurer {
  readonly dir: string;
  private inspector: HeapInspector | undefined;
  private done = false;
  private count = 0;
  private snapshotAt = new Set<number>();
  /** Iterations seen so far, warm-up included. */
  get seen(): number { return this.count; }
  /** True while allocation tracking is on (during the last measured iteration). */
  get tracking(): boolean { return this.inspector !== undefined; }
  /** True once the last measured iteration has been measured (tracking is off again). */
  get finished(): boolean { return this.done; }

  constructor(readonly config: MeasureConfig, private readonly note: (text: string) => void = () => {}) {
    this.dir = config.dir ?? mkdtempSync(join(tmpdir(), 'memtrace-leaks-'));
  }

  /** Measures the baseline when there is no warm-up (call before the first iteration). */
  begin(): BoundaryRecord | undefined {
    return this.config.warmup === 0 ? this.boundary(true) : undefined;
  }

  /** Call at the end of each iteration: returns what it measured. */
  iterationEnded(): BoundaryRecord | undefined {
    if (this.done) return undefined;
    this.count++;
    return this.boundary(false);
  }

  private boundary(initial: boolean): BoundaryRecord {
    const { warmup, iterations } = this.config;
    const i = initial ? 0 : this.count;
    const k = i - warmup;
    if (k < 0) return this.figures(i, 'warmup', k);
    const g0 = performance.now();
    fullGc();
    const gcMs = performance.now() - g0;
    if (k === 0) {
      const used = getHeapStatistics().used_heap_size;
      const below = this.config.everySnapshotBelow ?? 64 * 1024 * 1024;
      const mid = Math.ceil(iterations / 2);
      for (let j = 0; j <= iterations; j++) if (used < below || j === 0 || j === mid || j >= iterations - 1) this.snapshotAt.add(j);
      if (used >= below) this.note(`the heap holds ${Math.round(used / 1048576)} MiB: 4 snapshots instead of ${iterations + 1}; each pauses the program and needs up to about twice the heap in memory`);
    }
    const rec = this.figures(i, 'measure', k);
    rec.gcMs = gcMs;
    if (this.snapshotAt.has(k)) {
      const path = join(this.dir, `${process.pid}-${k}.heapsnapshot`);
      const t0 = performance.now();
      writeHeapSnapshot(path);
      rec.snapshot = path;
      rec.snapshotMs = performance.now() - t0;
    }
    if (k === iterations - 1 && this.config.sites !== false) {
      // From here on V8 records the allocation stack of every new object.
      this.inspector = new HeapInspector();
      this.inspector.startTracking();
    }
    if (k >= iterations) this.stop();
    return rec;
  }

  private figures(i: number, phase: 'warmup' | 'measure', k: number): BoundaryRecord {
    const h = getHeapStatistics();
    const m = process.memoryUsage();
    return { ev: 'iteration', i, phase, k: Math.max(0, k), epoch: epochNow(), heapUsed: h.used_heap_size, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss };
  }

  /** Inline source maps (code transformed in memory, e.g. by tsx), by script URL. */
  inlineSourceMaps(): Record<string, string> {
    const insp = new HeapInspector();
    try { return insp.inlineSourceMaps(); } finally { insp.close(); }
  }

  /** Ends allocation tracking and the inspector session (the program runs at full speed again). */
  stop(): void {
    if (this.done) return;
    this.done = true;
    if (this.inspector) {
      try { this.inspector.stopTracking(); } catch { /* already off */ }
      this.inspector.close();
      this.inspector = undefined;
    }
  }
}
