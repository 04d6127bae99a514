// The difference between two snapshots, and its text table showing only what changed significantly.
import { formatBytes, formatDuration, parseBytes } from '../../core/units.js';
import type { CodeFigures, HeapFigures, ProcessFigures, SpaceFigures, SpacesSnapshot } from '../../runtime/spaces-snapshot.js';

/** One figure before and after, and the change. */
export interface Change {
  before: number;
  after: number;
  change: number;
}

/** The change of the four figures of one space. */
export type SpaceChange = Record<keyof SpaceFigures, Change>;

/** Changes smaller than this many bytes are left out of `format()` unless told otherwise: 64 KiB. */
export const DEFAULT_THRESHOLD = 64 * 1024;

/** Options of {@link SpacesDiff.format}. */
export interface FormatOptions {
  /** Hide byte changes smaller than this (bytes, or a size like "1k"); default 64 KiB. Counts show when they change at all. */
  threshold?: number | string;
  /** Show every space and figure, changed or not. */
  all?: boolean;
  /** Include the table of spaces (default true); false shows only heap, code and process figures. */
  spaces?: boolean;
  /** Column heads of the two readings; default ['before', 'after']. */
  labels?: [string, string];
  /** Said after the count of hidden figures: how to show them (default names `format({ all: true })`). */
  hiddenHint?: string;
  /** Title line; default says what is compared and over how long; '' for none. */
  title?: string;
}

/** Labels of the heap figures, in the order they are shown. */
export const HEAP_LABELS: Record<keyof HeapFigures, string> = {
  usedHeapSize: 'used heap',
  totalHeapSize: 'heap committed',
  totalPhysicalSize: 'heap physical',
  totalAvailableSize: 'heap available',
  totalHeapSizeExecutable: 'executable committed',
  heapSizeLimit: 'heap size limit',
  externalMemory: 'external memory',
  mallocedMemory: 'malloced memory',
  peakMallocedMemory: 'peak malloced memory',
  totalGlobalHandlesSize: 'global handles committed',
  usedGlobalHandlesSize: 'global handles used',
  nativeContexts: 'native contexts',
  detachedContexts: 'detached contexts',
};

/** Labels of the code figures. */
export const CODE_LABELS: Record<keyof CodeFigures, string> = {
  codeAndMetadataSize: 'code and metadata',
  bytecodeAndMetadataSize: 'bytecode and metadata',
  externalScriptSourceSize: 'external script source',
  cpuProfilerMetadataSize: 'CPU profiler metadata',
};

/** Labels of process.memoryUsage() figures. */
export const PROCESS_LABELS: Record<keyof ProcessFigures, string> = {
  rss: 'rss',
  heapTotal: 'heapTotal',
  heapUsed: 'heapUsed',
  external: 'external',
  arrayBuffers: 'arrayBuffers',
};

const COUNTS = new Set(['nativeContexts', 'detachedContexts']);

function change(before: number, after: number): Change {
  return { before, after, change: after - before };
}

function changes<K extends string>(before: Record<K, number> | undefined, after: Record<K, number> | undefined, keys: K[]): Record<K, Change> {
  const out = {} as Record<K, Change>;
  for (const k of keys) out[k] = change(before?.[k] ?? 0, after?.[k] ?? 0);
  return out;
}

/** Resolves a threshold option (bytes or "64k") to bytes. */
export function thresholdBytes(threshold: number | string | undefined): number {
  if (threshold === undefined) return DEFAULT_THRESHOLD;
  const n = typeof threshold === 'number' ? threshold : parseBytes(threshold, 'threshold');
  if (!(n >= 0)) throw new RangeError(`threshold must be a size of zero or more bytes, got ${threshold}`);
  return n;
}

/** Lays out rows of text cells in aligned columns (first column left, others right). */
export function textTable(rows: string[][], indent = '  '): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows
    .map((r) => indent + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ').trimEnd())
    .join('\n');
}

/** What changed between two snapshots: every space, the heap statistics, code sizes and process.memoryUsage(). */
export class SpacesDiff {
  /** Per space (union of both snapshots' spaces), the change of used, committed, available and physical. */
  readonly spaces: Record<string, SpaceChange>;
  /** The change of each heap statistic. */
  readonly heap: Record<keyof HeapFigures, Change>;
  /** The change of code and bytecode sizes, when both snapshots have them. */
  readonly code: Record<keyof CodeFigures, Change> | undefined;
  /** The change of each process.memoryUsage() figure. */
  readonly process: Record<keyof ProcessFigures, Change>;
  /** Time between the snapshots, ms. */
  readonly durationMs: number;
  /** The threshold `format()` uses when not told (bytes). */
  threshold: number;

  constructor(readonly before: SpacesSnapshot, readonly after: SpacesSnapshot, threshold?: number | string) {
    this.threshold = thresholdBytes(threshold);
    this.durationMs = after.time - before.time;
    const names = [...Object.keys(before.spaces)];
    for (const n of Object.keys(after.spaces)) if (!names.includes(n)) names.push(n);
    this.spaces = {};
    const figs: Array<keyof SpaceFigures> = ['used', 'committed', 'available', 'physical'];
    for (const n of names) {
      this.spaces[n] = changes(before.spaces[n] as unknown as Record<keyof SpaceFigures, number>, after.spaces[n] as unknown as Record<keyof SpaceFigures, number>, figs);
    }
    this.heap = changes(before.heap as unknown as Record<keyof HeapFigures, number>, after.heap as unknown as Record<keyof HeapFigures, number>, Object.keys(HEAP_LABELS) as Array<keyof HeapFigures>);
    this.code = before.code && after.code
      ? changes(before.code as unknown as Record<keyof CodeFigures, number>, after.code as unknown as Record<keyof CodeFigures, number>, Object.keys(CODE_LABELS) as Array<keyof CodeFigures>)
      : undefined;
    this.process = changes(before.process as unknown as Record<keyof ProcessFigures, number>, after.process as unknown as Record<keyof ProcessFigures, number>, Object.keys(PROCESS_LABELS) as Array<keyof ProcessFigures>);
  }

  /** Names of the spaces where a figure changed by at least `threshold` bytes (default: this diff's threshold). */
  changedSpaces(threshold: number | string = this.threshold): string[] {
    const min = thresholdBytes(threshold);
    return Object.keys(this.spaces).filter((n) => {
      const s = this.spaces[n]!;
      return [s.used, s.committed, s.available, s.physical].some((c) => c.change !== 0 && Math.abs(c.change) >= min);
    });
  }

  /** Change of used bytes summed over every space. */
  get usedChange(): number {
    return Object.values(this.spaces).reduce((a, s) => a + s.used.change, 0);
  }

  /** The JSON form: the changes, without the raw snapshots' methods. */
  toJSON(): Record<string, unknown> {
    return { durationMs: this.durationMs, threshold: this.threshold, spaces: this.spaces, heap: this.heap, code: this.code, process: this.process };
  }

  /** A text table of what changed significantly (byte changes ≥ the threshold, counts that changed at all). */
  format(options: FormatOptions = {}): string {
    const min = thresholdBytes(options.threshold ?? this.threshold);
    const all = options.all ?? false;
    const sig = (k: string, c: Change) => all || (COUNTS.has(k) ? c.change !== 0 : c.change !== 0 && Math.abs(c.change) >= min);
    const out: string[] = [];
    const title = options.title ?? `V8 heap spaces: change over ${formatDuration(this.durationMs)}`;
    if (title) out.push(title);
    const withSpaces = options.spaces ?? true;
    const labels = options.labels ?? ['before', 'after'];
    const shown = all ? Object.keys(this.spaces) : this.changedSpaces(min);
    let hidden = 0;
    if (!withSpaces) {
      // the caller shows the spaces its own way
    } else if (shown.length) {
      const rows = [['space', `used ${labels[0]}`, `used ${labels[1]}`, 'used', 'committed', 'available', 'physical']];
      for (const n of shown) {
        const s = this.spaces[n]!;
        const d = (c: Change) => (c.change === 0 ? '·' : formatBytes(c.change, true));
        rows.push([n, formatBytes(s.used.before), formatBytes(s.used.after), d(s.used), d(s.committed), d(s.available), d(s.physical)]);
      }
      out.push(textTable(rows));
    } else {
      out.push('  no space changed by more than the threshold');
    }
    if (withSpaces) hidden += Object.keys(this.spaces).length - shown.length;
    const group = (title: string, names: Record<string, string>, data: Record<string, Change> | undefined) => {
      if (!data) return;
      const rows: string[][] = [];
      for (const [k, label] of Object.entries(names)) {
        const c = data[k]!;
        if (!sig(k, c)) { hidden++; continue; }
        const f = COUNTS.has(k) ? (v: number, s = false) => (s && v > 0 ? '+' : '') + String(v) : formatBytes;
        rows.push([label, f(c.before), f(c.after), c.change === 0 ? '·' : f(c.change, true)]);
      }
      if (rows.length) out.push(title, textTable([['', labels[0], labels[1], 'change'], ...rows]));
    };
    group(`heap statistics`, HEAP_LABELS, this.heap as unknown as Record<string, Change>);
    group('code statistics', CODE_LABELS, this.code as unknown as Record<string, Change> | undefined);
    group('process.memoryUsage()', PROCESS_LABELS, this.process as unknown as Record<string, Change>);
    if (!all && hidden) out.push(`  (${hidden} figures unchanged or changed by less than ${formatBytes(min)}: hidden; ${options.hiddenHint ?? 'format({ all: true }) shows them'})`);
    return out.join('\n');
  }
}
