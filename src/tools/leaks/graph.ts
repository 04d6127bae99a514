// The view of one heap snapshot the leak finder needs: nodes (type, name, id, size, allocation
// trace), their edges, retainer paths from the GC roots and the allocation stacks. It sits over
// the snapshot engine so that detection never touches the file format itself.
import { statSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import { openSnapshot, type SnapshotSource } from './engine.js';

/** One frame of an allocation stack, as V8 recorded it (1-based line and column). */
export interface TraceFrame {
  fn: string;
  url: string;
  line: number;
  col: number;
}

/** An edge of the heap graph. */
export interface Edge {
  type: string;
  /** Property or variable name; the index for elements. */
  name: string;
  to: number;
}

/** One step of a retainer path: the edge taken and the node it reaches. */
export interface PathStep {
  edge: Edge | null;
  node: number;
}

/** A heap snapshot read for leak finding. Nodes are dense indices 0…nodeCount-1. */
export class HeapGraph {
  private parents: Int32Array | undefined;
  private parentEdge: Int32Array | undefined;

  private constructor(readonly path: string, readonly src: SnapshotSource, readonly fileBytes: number) {}

  /** Reads the snapshot at `path` (a UsageError when it is missing, truncated or not a heap snapshot). */
  static load(path: string): HeapGraph {
    let bytes: number;
    try { bytes = statSync(path).size; } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(`cannot read snapshot ${path}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    return new HeapGraph(path, openSnapshot(path), bytes);
  }

  get nodeCount(): number { return this.src.nodeCount; }
  type(i: number): string { return this.src.type(i); }
  name(i: number): string { return this.src.name(i); }
  id(i: number): number { return this.src.id(i); }
  selfSize(i: number): number { return this.src.selfSize(i); }
  traceNode(i: number): number { return this.src.traceNode(i); }
  edgeCount(i: number): number { return this.src.edgeCount(i); }
  /** The edges of node `i`. */
  edges(i: number): Edge[] { return this.src.edges(i); }
  /** Bytes `i` keeps alive alone (its dominator subtree). */
  retainedSize(i: number): number { return this.src.retainedSize(i); }
  /** The allocation stack of a trace node, innermost frame first; empty when unknown. */
  stack(traceNode: number): TraceFrame[] { return this.src.stack(traceNode); }
  /** True when the snapshot was taken with allocation tracking (it carries allocation stacks). */
  get hasTraces(): boolean { return this.src.hasTraces; }

  /**
   * A shortest path from the GC roots to node `i` over edges that keep objects alive (weak
   * edges skipped), root first; empty when `i` is unreachable.
   */
  retainerPath(i: number): PathStep[] {
    if (!this.parents) this.bfs();
    const out: PathStep[] = [];
    let n = i;
    let guard = 0;
    while (n >= 0 && guard++ < 10_000) {
      const e = this.parentEdge![n]!;
      out.push({ node: n, edge: e >= 0 ? this.src.edgeAt(e) : null });
      if (n === 0) break;
      n = this.parents![n]!;
    }
    if (out[out.length - 1]?.node !== 0) return [];
    return out.reverse();
  }

  /** Breadth-first from the root: each node's parent on one shortest path (weak edges skipped). */
  private bfs(): void {
    const n = this.nodeCount;
    const parents = new Int32Array(n).fill(-1);
    const pedge = new Int32Array(n).fill(-1);
    const queue = new Int32Array(n);
    let head = 0, tail = 0;
    queue[tail++] = 0;
    parents[0] = 0;
    while (head < tail) {
      const v = queue[head++]!;
      this.src.forEachEdge(v, (edgeIndex, type, to) => {
        if (type === 'weak' || parents[to] !== -1) return;
        // DevTools-like: do not walk into V8's internal caches and roots lists for paths.
        if (v !== 0 && this.src.type(v) === 'synthetic' && !this.isUserRoot(v)) return;
        parents[to] = v;
        pedge[to] = edgeIndex;
        queue[tail++] = to;
      });
    }
    this.parents = parents;
    this.parentEdge = pedge;
  }

  private isUserRoot(v: number): boolean {
    const name = this.src.name(v);
    return name === '(GC roots)' || name.startsWith('(Global handles') || name === '(Stack roots)' || name === '(Handle scope)';
  }
}
