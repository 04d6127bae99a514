// Dominator tree by Lengauer-Tarjan (the "simple" version with path compression,
// O(E log N)), iterative, over typed arrays. The graph comes as callbacks so that the
// caller decides which edges keep objects alive.

/**
 * The graph the dominator computation walks, as flat arrays: nodes 0..n-1, edge e of node v
 * for e in [firstEdge[v], firstEdge[v+1]), target `edges[e * stride + toOffset]`;
 * predecessors through the retainer arrays. `counts(from, e)` says if an edge keeps its
 * target alive.
 */
export interface DominatorInput {
  nodeCount: number;
  root: number;
  firstEdge: Uint32Array;
  edges: Uint32Array;
  stride: number;
  toOffset: number;
  firstRetainer: Uint32Array;
  retainerNode: Uint32Array;
  retainerEdge: Uint32Array;
  counts(from: number, e: number): boolean;
  /**
   * Nodes to start more DFS trees from once the root's is done (as if the root had an edge
   * to each): called with what is visited so far.
   */
  extraStarts(visited: Uint8Array): Iterable<number>;
}

/** The dominator tree: `idom[n]` (the root's is itself) and nodes in DFS preorder. */
export interface DominatorTree {
  idom: Uint32Array;
  /** Nodes in DFS preorder: every node's dominator comes before it. */
  order: Uint32Array;
  /** How many nodes the DFS reached from the root itself (the rest from extra starts). */
  reachedFromRoot: number;
}

const NONE = 0xffffffff;

/** Computes the immediate dominator of every node. */
export function dominators(g: DominatorInput): DominatorTree {
  const n = g.nodeCount;
  const { firstEdge, edges, stride, toOffset, firstRetainer, retainerNode, retainerEdge } = g;
  // dfn[node] = preorder number + 1 (0: not visited); the arrays below are in preorder space.
  const dfn = new Uint32Array(n);
  const vertex = new Uint32Array(n);
  const parent = new Uint32Array(n);
  const visited = new Uint8Array(n);
  const virtualChild = new Uint8Array(n);
  let count = 0;
  const stackNode = new Uint32Array(n);
  const stackEdge = new Uint32Array(n);
  const dfsFrom = (start: number) => {
    visited[start] = 1;
    dfn[start] = count + 1; vertex[count] = start; parent[count] = 0; count++;
    let top = 0;
    stackNode[0] = start; stackEdge[0] = firstEdge[start]!;
    while (top >= 0) {
      const v = stackNode[top]!;
      const e = stackEdge[top]!;
      if (e >= firstEdge[v + 1]!) { top--; continue; }
      stackEdge[top] = e + 1;
      const c = edges[e * stride + toOffset]!;
      if (visited[c] || !g.counts(v, e)) continue;
      visited[c] = 1;
      dfn[c] = count + 1; vertex[count] = c; parent[count] = dfn[v]! - 1; count++;
      top++;
      stackNode[top] = c; stackEdge[top] = firstEdge[c]!;
    }
  };
  dfsFrom(g.root);
  const reachedFromRoot = count;
  for (const s of g.extraStarts(visited)) if (!visited[s]) { virtualChild[s] = 1; dfsFrom(s); }
  // Whatever is still not reached becomes a child of the root.
  for (let v = 0; v < n; v++) if (!visited[v]) { virtualChild[v] = 1; dfsFrom(v); }

  const semi = new Uint32Array(n);
  const label = new Uint32Array(n);
  const ancestor = new Uint32Array(n).fill(NONE);
  const idom = new Uint32Array(n);
  const bucketHead = new Uint32Array(n).fill(NONE);
  const bucketNext = new Uint32Array(n).fill(NONE);
  for (let i = 0; i < n; i++) { semi[i] = i; label[i] = i; }
  const path = stackNode; // reused as the compression path

  const evalNode = (v: number): number => {
    if (ancestor[v] === NONE) return v;
    // compress: collect the chain up to the node whose ancestor is a tree root
    let len = 0, x = v;
    while (ancestor[ancestor[x]!] !== NONE) { path[len++] = x; x = ancestor[x]!; }
    while (len > 0) {
      const y = path[--len]!;
      const a = ancestor[y]!;
      if (semi[label[a]!]! < semi[label[y]!]!) label[y] = label[a]!;
      ancestor[y] = ancestor[a]!;
    }
    return label[v]!;
  };

  for (let i = count - 1; i >= 1; i--) {
    const w = vertex[i]!;
    let s = semi[i]!;
    if (virtualChild[w]) s = 0;
    for (let r = firstRetainer[w]!, rEnd = firstRetainer[w + 1]!; r < rEnd; r++) {
      const pv = retainerNode[r]!;
      if (!g.counts(pv, retainerEdge[r]!)) continue;
      const u = evalNode(dfn[pv]! - 1);
      if (semi[u]! < s) s = semi[u]!;
    }
    semi[i] = s;
    bucketNext[i] = bucketHead[s]!;
    bucketHead[s] = i;
    const p = parent[i]!;
    ancestor[i] = p;
    for (let v = bucketHead[p]!; v !== NONE; v = bucketNext[v]!) {
      const u = evalNode(v);
      idom[v] = semi[u]! < semi[v]! ? u : p;
    }
    bucketHead[p] = NONE;
  }
  for (let i = 1; i < count; i++) if (idom[i] !== semi[i]) idom[i] = idom[idom[i]!]!;
  idom[0] = 0;
  // Back from preorder numbers to node ordinals.
  const out = new Uint32Array(n);
  for (let i = 0; i < count; i++) out[vertex[i]!] = vertex[idom[i]!]!;
  return { idom: out, order: vertex, reachedFromRoot };
}
