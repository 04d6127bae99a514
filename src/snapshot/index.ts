// The heap-snapshot engine: reads V8 .heapsnapshot files of any size into a HeapGraph
// (typed arrays), with dominators, retained sizes, retainer paths and aggregates by class.
// It knows no tool; `heap --exact`, `leaks` and others import it.
import { open } from 'node:fs/promises';
import { HeapGraph } from './graph.js';
import { SnapshotParser, type Progress } from './parser.js';

export { HeapGraph, bornBetween } from './graph.js';
export type { Edge, PathStep, ClassAggregate, PathCluster } from './graph.js';
export { SnapshotParser, SnapshotFormatError } from './parser.js';
export { AllocationTraces } from './traces.js';
export type { TraceFrame } from './traces.js';
export type { RawHeapSnapshot, SnapshotMeta, Progress } from './parser.js';

/** Options of loadSnapshot. */
export interface LoadOptions {
  /** Called as the work goes (bytes read while parsing; the dominator phase later). */
  onProgress?: (p: Progress) => void;
  /** Bytes per read (default 1 MiB). */
  chunkSize?: number;
}

/** Reads a .heapsnapshot file in chunks into a HeapGraph; SnapshotFormatError if it is not one. */
export async function loadSnapshot(path: string, opts: LoadOptions = {}): Promise<HeapGraph> {
  const fh = await open(path, 'r');
  try {
    const total = (await fh.stat()).size;
    const parser = new SnapshotParser();
    const buf = Buffer.allocUnsafe(opts.chunkSize ?? 1024 * 1024);
    let done = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      parser.write(buf.subarray(0, bytesRead));
      done += bytesRead;
      opts.onProgress?.({ phase: 'parse', done, total });
    }
    return new HeapGraph(parser.end(), { onProgress: opts.onProgress });
  } finally {
    await fh.close();
  }
}

/** Parses a whole snapshot held in memory (a Buffer or the text) into a HeapGraph. */
export function parseSnapshot(data: Uint8Array | string, opts: { onProgress?: (p: Progress) => void } = {}): HeapGraph {
  const parser = new SnapshotParser();
  parser.write(data);
  return new HeapGraph(parser.end(), opts);
}
