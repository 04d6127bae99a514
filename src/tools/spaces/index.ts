// Library API of the spaces tool: V8's heap spaces either side of a block of code.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pushMarkSink } from '../../runtime/marks.js';
import { SpacesDiff, thresholdBytes } from './diff.js';
import { readSnapshot, type SpacesSnapshot } from '../../runtime/spaces-snapshot.js';

export { SpacesDiff, DEFAULT_THRESHOLD } from './diff.js';
export type { Change, SpaceChange, FormatOptions } from './diff.js';
export type { SpacesSnapshot, SpaceFigures, HeapFigures, CodeFigures, ProcessFigures } from '../../runtime/spaces-snapshot.js';

/** Options of {@link snapshotSpaces}. */
export interface SnapshotOptions {
  /** Also read code and bytecode sizes; this walks the heap (~0.1 ms per MiB of heap). Default false. */
  code?: boolean;
  /** Run a full garbage collection first, so `used` counts live objects only. Default false. */
  gc?: boolean;
}

/** Options of {@link diffSpaces}. */
export interface DiffSpacesOptions {
  /** Also read code and bytecode sizes either side. Default false: V8 walks the whole heap for them (~0.1 ms per MiB). */
  code?: boolean;
  /** Collect garbage before each snapshot, so the change is what the block kept. Default false. */
  gc?: boolean;
  /** `format()` hides byte changes below this (bytes or "64k"). Default 64 KiB. */
  threshold?: number | string;
}

/** A snapshot that can be compared with an earlier one. */
export interface Snapshot extends SpacesSnapshot {
  /** What changed from `earlier` to this snapshot. */
  diff(earlier: SpacesSnapshot, threshold?: number | string): SpacesDiff;
}

/** A snapshot taken at a mark placed (with `mark()`) inside a diffSpaces block. */
export interface SpacesMark {
  label: string;
  /** ms since the block started. */
  t: number;
  snapshot: SpacesSnapshot;
}

/** The result of {@link diffSpaces}: the change around the block, the block's value, and snapshots at marks. */
export class SpacesResult<T> extends SpacesDiff {
  constructor(before: SpacesSnapshot, after: SpacesSnapshot, threshold: number | string | undefined,
    /** What the block returned (resolved, for an async block). */
    readonly value: T,
    /** Snapshots at the marks placed during the block. */
    readonly marks: SpacesMark[]) {
    super(before, after, threshold);
  }
}

let gcFunction: (() => void) | undefined;

/** A function that runs a full GC, exposing V8's gc() when the program was started without --expose-gc. */
function collector(): () => void {
  if (gcFunction) return gcFunction;
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return (gcFunction = () => g());
  v8.setFlagsFromString('--expose-gc');
  const fresh = runInNewContext('gc') as () => void;
  return (gcFunction = () => fresh());
}

function take(code: boolean, gc: boolean): SpacesSnapshot {
  if (gc) collector()();
  return readSnapshot({ code });
}

/** Takes one snapshot of V8's heap spaces, heap statistics and process.memoryUsage() (~10 µs without code statistics). */
export function snapshotSpaces(options: SnapshotOptions = {}): Snapshot {
  const snap = take(options.code ?? false, options.gc ?? false);
  Object.defineProperty(snap, 'diff', {
    enumerable: false,
    value(this: SpacesSnapshot, earlier: SpacesSnapshot, threshold?: number | string) { return new SpacesDiff(earlier, this, threshold); },
  });
  return snap as Snapshot;
}

/** What changed from `before` to `after` (two snapshots, e.g. from {@link snapshotSpaces} or a log). */
export function diff(before: SpacesSnapshot, after: SpacesSnapshot, threshold?: number | string): SpacesDiff {
  return new SpacesDiff(before, after, threshold);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Runs `fn` between two snapshots and returns what changed in every V8 heap space, the heap
 * statistics and process.memoryUsage(). A sync `fn` gives the result at once; an async one a
 * Promise of it. If `fn` throws (or rejects), the same error is rethrown after the tool stops.
 * A `mark(label)` during the block adds a snapshot to `marks`.
 */
export function diffSpaces<T>(fn: () => Promise<T>, options?: DiffSpacesOptions): Promise<SpacesResult<T>>;
export function diffSpaces<T>(fn: () => T, options?: DiffSpacesOptions): SpacesResult<T>;
export function diffSpaces<T>(fn: () => T | Promise<T>, options: DiffSpacesOptions = {}): SpacesResult<T> | Promise<SpacesResult<T>> {
  if (typeof fn !== 'function') throw new TypeError('diffSpaces(fn): fn must be a function');
  thresholdBytes(options.threshold); // a bad threshold fails before the block runs
  const code = options.code ?? false;
  const gc = options.gc ?? false;
  const marks: SpacesMark[] = [];
  const before = take(code, gc);
  const removeSink = pushMarkSink((label) => {
    const snapshot = readSnapshot();
    marks.push({ label, t: snapshot.time - before.time, snapshot });
  });
  const finish = (value: T): SpacesResult<T> => {
    removeSink();
    const after = take(code, gc);
    return new SpacesResult(before, after, options.threshold, value, marks);
  };
  let value: T | Promise<T>;
  try {
    value = fn();
  } catch (err) {
    removeSink();
    throw err;
  }
  if (isThenable(value)) {
    return Promise.resolve(value).then(
      (v) => finish(v as T),
      (err: unknown) => { removeSink(); throw err; },
    );
  }
  return finish(value as T);
}
