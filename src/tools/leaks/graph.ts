// The view of one heap snapshot the leak finder uses, over the snapshot engine (src/snapshot/):
// nodes, edges, retained sizes, retainer paths and allocation stacks.
import { statSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import { AllocationTraces, SnapshotFormatError, loadSnapshot, type HeapGraph as EngineGraph, type TraceFrame } from '../../snapshot/index.js';

export type { TraceFrame };

/** An edge of the heap graph. */
export interface Edge {
  type: string;
  /** Property or variable name; the index for elements. */
  name: string;
  to: number;
}

/** One step of a retainer path: the edge taken (its label for people) and the node it reaches. */
export interface PathStep {
  edge: Edge;
  label: string;
  node: number;
}

/** A heap snapshot read for leak finding. Nodes are dense indices 0…nodeCount-1. */
export class HeapGraph {
  private readonly traces: AllocationTraces;

  private constructor(readonly path: string, readonly g: EngineGraph, readonly fileBytes: number) {
    this.traces = new AllocationTraces(g);
  }

  /** Reads the snapshot at `path` (a UsageError when it is missing, truncated or not a heap snapshot). */
  static async load(path: string): Promise<HeapGraph> {
    let bytes: number;
    try { bytes = statSync(path).size; } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(`cannot read snapshot ${path}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
    }
    try {
      return new HeapGraph(path, await loadSnapshot(path), bytes);
    } catch (err) {
      if (err instanceof SnapshotFormatError) throw new UsageError(`${path} is not a complete heap snapshot: ${err.message}`);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR') throw new UsageError(`cannot read snapshot ${path}: is a directory`);
      if (code) throw new UsageError(`cannot read snapshot ${path}: ${(err as Error).message}`);
      throw new UsageError(`${path} is not a heap snapshot: ${(err as Error).message}`);
    }
  }

  get nodeCount(): number { return this.g.nodeCount; }
  type(i: number): string { return this.g.type(i); }
  name(i: number): string { return this.g.name(i); }
  id(i: number): number { return this.g.id(i); }
  selfSize(i: number): number { return this.g.selfSize(i); }
  traceNode(i: number): number { return this.g.traceNodeId(i); }
  edgeCount(i: number): number { return this.g.edgeCountOf(i); }
  /** The edges of node `i`. */
  edges(i: number): Edge[] { return [...this.g.edges(i)]; }
  /** Bytes `i` keeps alive alone (its dominator subtree, native backing stores included). */
  retainedSize(i: number): number { return this.g.retainedSize(i); }
  /** Entries of a Map/Set (a small-integer key or value is no node, so slots are paired by position), elements of an Array; -1 otherwise. */
  collectionSize(i: number): number { return this.g.collectionSize(i); }
  /** A node as a person reads it: `Map (6000 entries)`, `(closure handler)`. */
  describe(i: number): string { return this.g.describe(i); }
  /** The allocation stack of a trace node, innermost frame first; empty when unknown. */
  stack(traceNode: number): TraceFrame[] { return this.traces.stack(traceNode); }
  /** True when the snapshot was taken with allocation tracking (it carries allocation stacks). */
  get hasTraces(): boolean { return this.traces.present; }

  /** A shortest path from a GC root to node `i` (weak edges skipped), root side first; empty when unreachable. */
  retainerPath(i: number): PathStep[] {
    return this.g.retainerPath(i).map((s) => ({ node: s.node, label: s.label, edge: { type: s.edgeType, name: s.edgeName, to: s.node } }));
  }
}
