// The heap tool's library API: allocations by line through V8's sampling heap profiler (or,
// exact, allocation tracking plus a snapshot), snapshots to diff, live objects by constructor.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { parseBytes } from '../../core/units.js';
import { formatBytes } from '../../core/units.js';
import { formatSites, formatTotals } from './format.js';
import { HeapInspector, type ProfileNode, type SamplingProfile } from '../../runtime/heap-inspector.js';
import {
  FrameTable, chargedFrame, groupSites, readSamplingProfile, stackLabels, totals,
  type GroupOptions, type HeapData, type HeapTotals, type SampledData, type Site,
} from './profile.js';
import { parseSnapshot, type HeapGraph } from '../../snapshot/index.js';
import { countObjects, readTrackedSnapshot } from './snapshot.js';

export type { GroupBy, HeapTotals, Site, Frame, StackRow, HeapData } from './profile.js';

/** V8's default mean sampling interval: 32 KiB. */
export const DEFAULT_INTERVAL = 32 * 1024;

/** Options of {@link traceHeap} and {@link startHeap}. */
export interface HeapOptions {
  /** Mean bytes between samples ("32k" or a number); default 32 KiB. */
  interval?: number | string;
  /** Also keep objects the GC collected: report everything allocated, not only what is live. */
  all?: boolean;
  /** Every object with its allocation stack (allocation tracking plus a snapshot): exact, and slow. */
  exact?: boolean;
  /** Also count live objects by constructor before and after (two heap snapshots). */
  objects?: boolean;
  /** Resolve positions through source maps (default true). */
  sourceMaps?: boolean;
}

/** Live objects by constructor before and after a block, and the constructors that grew. */
export interface ObjectsChange {
  before: Map<string, number>;
  after: Map<string, number>;
  /** Constructors whose live count grew, most first; with `exact`, where the new ones were allocated. */
  grew: Array<{ name: string; before: number; after: number; delta: number; sites?: Array<{ where: string; count: number }> }>;
}

function intervalOf(v: number | string | undefined): number {
  const n = v === undefined ? DEFAULT_INTERVAL : typeof v === 'number' ? v : parseBytes(v, 'interval');
  if (!Number.isFinite(n) || n < 1) throw new UsageError(`interval: '${v}' must be at least 1 byte`);
  return Math.round(n);
}

/** What the heap tool found: sites by line, function or stack, totals, and a text table. */
export class HeapResult {
  /** Totals charged to user code, and memtrace's own apart. */
  readonly totals: HeapTotals;
  /** Live objects by constructor before and after (with the `objects` option). */
  objects?: ObjectsChange;

  constructor(
    /** The profile read into frames and stacks. */
    readonly data: HeapData,
    /** "sampled" (estimates, within sampling error) or "exact". */
    readonly mode: 'sampled' | 'exact',
    /** Mean sampling interval in bytes (sampled mode). */
    readonly intervalBytes: number,
    /** Wall time of the block, ms. */
    readonly durationMs: number,
  ) {
    this.totals = totals(data);
  }

  /** Bytes live at the end, charged to user code (undefined when only allocations were kept). */
  get live(): number | undefined { return this.data.hasLive ? this.totals.live : undefined; }
  /** Bytes allocated, collected objects included (undefined unless `all` or `exact`). */
  get allocated(): number | undefined { return this.data.hasAlloc ? this.totals.alloc : undefined; }

  /** The `n` biggest sites (live bytes when known, else allocated), by line (default), function or stack. */
  top(n = 10, opts: GroupOptions = {}): Site[] {
    return groupSites(this.data, { cwd: process.cwd(), ...opts }).slice(0, n);
  }

  /** The totals and the top table as text. */
  format(opts: GroupOptions & { top?: number } = {}): string {
    const by = opts.by ?? 'line';
    const ctx = { by, hasLive: this.data.hasLive, hasAlloc: this.data.hasAlloc, mode: this.mode };
    const how = this.mode === 'exact' ? 'every object tracked (exact)' : `sampled every ${formatBytes(this.intervalBytes)}`;
    const parts = [`heap: ${how}, ${this.durationMs.toFixed(1)} ms`, ...formatTotals(this.totals, ctx),
      formatSites(groupSites(this.data, { cwd: process.cwd(), ...opts }), this.totals, ctx, opts.top ?? 10)];
    if (this.objects?.grew.length) {
      parts.push('live objects that grew, by constructor:');
      for (const g of this.objects.grew.slice(0, opts.top ?? 10)) {
        const sites = g.sites?.slice(0, 3).map((s) => `${s.where} (${s.count})`).join(', ');
        parts.push(`  ${g.name}: ${g.before} -> ${g.after} (+${g.delta})${sites ? `  from ${sites}` : ''}`);
      }
    }
    for (const n of this.data.notes) parts.push(`note: ${n}`);
    return parts.join('\n');
  }
}

let active: HeapTracer | undefined;

function busy(): UsageError {
  return new UsageError('the heap profiler is already running (another traceHeap or startHeap, or the program runs under memtrace heap)');
}

let snapshotSeq = 0;

function takeSnapshot(inspector: HeapInspector): HeapGraph {
  const path = join(tmpdir(), `memtrace-heap-${process.pid}-${++snapshotSeq}.heapsnapshot`);
  try {
    inspector.snapshotTo(path);
    return parseSnapshot(readFileSync(path));
  } finally {
    rmSync(path, { force: true });
  }
}

function countsOf(snap: HeapGraph): Map<string, number> {
  return new Map([...countObjects(snap)].map(([k, v]) => [k, v.count]));
}

/** A running heap profiler, from {@link startHeap}. */
export class HeapTracer {
  private inspector: HeapInspector;
  private t0 = performance.now();
  private readonly intervalBytes: number;
  private before?: Map<string, number>;
  private stopped = false;

  /** Starts the profiler (use {@link startHeap}). */
  constructor(private opts: HeapOptions = {}) {
    this.intervalBytes = intervalOf(opts.interval);
    if (active) throw busy();
    this.inspector = new HeapInspector();
    try {
      if (opts.objects) {
        this.inspector.collectGarbage();
        this.before = countsOf(takeSnapshot(this.inspector));
        // End the post-snapshot slowdown before the block runs.
        this.inspector.close();
        this.inspector = new HeapInspector();
      }
      if (opts.exact) this.inspector.startTracking();
      else this.inspector.startSampling({ intervalBytes: this.intervalBytes, all: !!opts.all });
    } catch (err) {
      this.inspector.close();
      if (/already/i.test((err as Error).message)) throw busy();
      throw err;
    }
    active = this;
    this.t0 = performance.now();
  }

  /** Live samples now (after a full GC), the profiler still running: what {@link heapSnapshot} returns. */
  snapshot(): HeapSnapshot {
    if (this.stopped) throw new UsageError('this heap tracer is stopped');
    if (this.opts.exact || this.opts.all) throw new UsageError('heap snapshots need the sampled, live-only profiler (no exact, no all)');
    this.inspector.collectGarbage();
    const profile = this.inspector.samplingProfile();
    const data = readSamplingProfile(profile, false, new FrameTable({ sourceMaps: this.opts.sourceMaps, inlineMaps: this.inlineMaps(profile) }));
    return new HeapSnapshot(data, this.intervalBytes);
  }

  /** Stops the profiler and reads what it found; safe to call once. */
  stop(): HeapResult {
    if (this.stopped) throw new UsageError('this heap tracer is already stopped');
    this.stopped = true;
    if (active === this) active = undefined;
    const durationMs = performance.now() - this.t0;
    try {
      let result: HeapResult;
      if (this.opts.exact) {
        this.inspector.collectGarbage();
        const snap = takeSnapshot(this.inspector);
        this.inspector.stopTracking();
        const table = new FrameTable({ sourceMaps: this.opts.sourceMaps, inlineMaps: this.opts.sourceMaps === false ? {} : this.inspector.inlineSourceMaps() });
        this.inspector.close();
        const data = readTrackedSnapshot(snap, table);
        result = new HeapResult(data, 'exact', 0, durationMs);
        if (this.before) result.objects = objectsChange(this.before, countsOf(snap), data, data.objectsBySite);
      } else {
        if (!this.opts.all) this.inspector.collectGarbage();
        const profile = this.inspector.stopSampling();
        const table = new FrameTable({ sourceMaps: this.opts.sourceMaps, inlineMaps: this.inlineMaps(profile) });
        this.inspector.close();
        result = new HeapResult(readSamplingProfile(profile, !!this.opts.all, table), 'sampled', this.intervalBytes, durationMs);
        if (this.before) result.objects = objectsChange(this.before, liveObjects(), undefined, undefined);
      }
      return result;
    } finally {
      this.inspector.close();
    }
  }

  /** Inline source maps, looked up only when the profile has TypeScript frames (code transformed in memory). */
  private inlineMaps(profile: SamplingProfile): Record<string, string> {
    if (this.opts.sourceMaps === false) return {};
    let ts = false;
    const walk = (n: ProfileNode) => { if (/\.[cm]?tsx?$/.test(n.callFrame.url)) ts = true; else n.children.forEach(walk); };
    walk(profile.head);
    return ts ? this.inspector.inlineSourceMaps() : {};
  }

  /** Stops without reading (after an error in the traced block). */
  abort(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (active === this) active = undefined;
    try { if (this.opts.exact) this.inspector.stopTracking(); else this.inspector.stopSampling(); } catch { /* stopping anyway */ }
    this.inspector.close();
  }
}

function objectsChange(before: Map<string, number>, after: Map<string, number>, data: HeapData | undefined, bySite: Map<number, Map<string, number>> | undefined): ObjectsChange {
  const grew: ObjectsChange['grew'] = [];
  for (const [name, n] of after) {
    const b = before.get(name) ?? 0;
    if (n > b) grew.push({ name, before: b, after: n, delta: n - b });
  }
  grew.sort((x, y) => y.delta - x.delta);
  if (data && bySite) {
    for (const g of grew.slice(0, 50)) {
      const sites = new Map<string, number>();
      for (const [sid, m] of bySite) {
        const c = m.get(g.name);
        if (!c) continue;
        const row = data.stacks[sid]!;
        const ch = chargedFrame(data.frames, row.frames);
        if (ch.tool) continue;
        const labels = stackLabels(data, row, { cwd: process.cwd() });
        const where = labels[labels.length - 1] ?? '(unknown)';
        sites.set(where, (sites.get(where) ?? 0) + c);
      }
      g.sites = [...sites].map(([where, count]) => ({ where, count })).sort((a, b) => b.count - a.count);
    }
  }
  return { before, after, grew };
}

/** Starts the heap profiler for a long span; `stop()` returns the {@link HeapResult}. */
export function startHeap(options: HeapOptions = {}): HeapTracer {
  return new HeapTracer(options);
}

/**
 * Runs `fn` (sync or async) under the heap profiler and returns what it allocated, by line:
 * live at the end by default, everything allocated with `all`, both with `exact`. When `fn`
 * throws, the profiler is stopped and the error rethrown.
 */
export async function traceHeap(fn: () => unknown, options: HeapOptions = {}): Promise<HeapResult> {
  const tracer = new HeapTracer(options);
  try {
    await fn();
  } catch (err) {
    tracer.abort();
    throw err;
  }
  return tracer.stop();
}

/** One row of a snapshot diff: per file:line, what was added and freed in between. */
export interface DiffRow {
  where: string;
  fn: string;
  added: number;
  freed: number;
  net: number;
  addedCount: number;
  freedCount: number;
}

/** The live samples at one moment; `b.diff(a)` shows, per line, what was added and freed since `a`. */
export class HeapSnapshot {
  /** Totals at this moment (user code's live bytes, memtrace's own apart). */
  readonly totals: HeapTotals;
  /** When it was taken (ms, performance.now()). */
  readonly takenAt = performance.now();

  constructor(readonly data: SampledData, readonly intervalBytes: number) {
    this.totals = totals(data);
  }

  /** The `n` biggest live sites at this moment. */
  top(n = 10, opts: GroupOptions = {}): Site[] {
    return groupSites(this.data, { cwd: process.cwd(), ...opts }).slice(0, n);
  }

  private siteOf(stack: number, opts: GroupOptions): { where: string; fn: string } | undefined {
    const row = this.data.stacks[stack]!;
    const ch = chargedFrame(this.data.frames, row.frames);
    if (ch.tool) return undefined;
    if (opts.by === 'stack') {
      const l = stackLabels(this.data, row, opts);
      return { where: l.slice(-4).join(' > '), fn: '' };
    }
    const site = groupSites({ ...this.data, stacks: [row] }, { ...opts, by: 'line' })[0];
    return site ? { where: site.where, fn: site.fn } : undefined;
  }

  /** Per file:line (or stack), the bytes added and freed between `earlier` and this snapshot, biggest change first. */
  diff(earlier: HeapSnapshot, opts: { by?: 'line' | 'stack'; expand?: boolean } = {}): HeapDiff {
    const o: GroupOptions = { cwd: process.cwd(), ...opts };
    const rows = new Map<string, DiffRow>();
    const bump = (snap: HeapSnapshot, stack: number, bytes: number, added: boolean) => {
      const s = snap.siteOf(stack, o);
      if (!s) return;
      let r = rows.get(s.where);
      if (!r) { r = { where: s.where, fn: s.fn, added: 0, freed: 0, net: 0, addedCount: 0, freedCount: 0 }; rows.set(s.where, r); }
      if (added) { r.added += bytes; r.addedCount++; r.net += bytes; } else { r.freed += bytes; r.freedCount++; r.net -= bytes; }
    };
    for (const [ord, s] of this.data.samples) if (!earlier.data.samples.has(ord)) bump(this, s.stack, s.bytes, true);
    for (const [ord, s] of earlier.data.samples) if (!this.data.samples.has(ord)) bump(earlier, s.stack, s.bytes, false);
    const list = [...rows.values()].sort((a, b) => Math.abs(b.net) - Math.abs(a.net) || b.added - a.added);
    return new HeapDiff(list);
  }
}

/** What changed between two snapshots, per site. */
export class HeapDiff {
  constructor(/** Rows, biggest net change first. */ readonly rows: DiffRow[]) {}

  /** Net bytes added (negative: freed) over all sites. */
  get net(): number { return this.rows.reduce((s, r) => s + r.net, 0); }

  /** The `n` biggest changes as text, like tracemalloc's snapshot comparison. */
  format(n = 10): string {
    const lines = [`heap diff: ${formatBytes(this.net, true)} net over ${this.rows.length} sites (sampled estimates)`];
    for (const r of this.rows.slice(0, n)) {
      lines.push(`  ${formatBytes(r.net, true).padStart(11)}  +${formatBytes(r.added)} / -${formatBytes(r.freed)}  ${r.where}${r.fn ? `  ${r.fn}` : ''}`);
    }
    return lines.join('\n');
  }
}

/**
 * The live heap by line now, from the sampling profiler (started by the first call when none
 * runs, and kept running so later snapshots can be diffed; only objects allocated after it
 * started are seen). `b.diff(a)` shows what was added and freed in between.
 */
export async function heapSnapshot(options: Pick<HeapOptions, 'interval' | 'sourceMaps'> = {}): Promise<HeapSnapshot> {
  if (!active) active = new HeapTracer(options);
  return active.snapshot();
}

/** Stops the profiler {@link heapSnapshot} started (or any running {@link startHeap}). */
export function stopHeapSnapshots(): void {
  active?.abort();
  active = undefined;
}

/**
 * Live objects by constructor name now (a full GC, then a heap snapshot: costs about a second
 * per 100 MB of heap). The inspector's heap profiler is disabled again afterwards, so the
 * program does not stay slowed down.
 */
export function liveObjects(): Map<string, number> {
  const inspector = new HeapInspector();
  try {
    inspector.collectGarbage();
    return countsOf(takeSnapshot(inspector));
  } finally {
    inspector.close();
  }
}
