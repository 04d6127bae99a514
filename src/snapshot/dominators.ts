// Dominator tree by Lengauer-Tarjan (the "simple" version with path compression,
// O(E log N)), iterative, over typed arrays. The graph comes as callbacks so that the
// caller decides which edges keep objects alive.

/**
 * The graph the dominator computation walks, as flat arrays: nodes 0..n-1, edge e of node v
 * for e in [firstEdge[v], firstEdge[v+1]), target `edges[e * stride + toOffset]`;
 * predecessors through the retainer slots. Which edges keep their target alive is DevTools'
 * rule: not weak, shortcuts only from the root, and into a node of the `owned` set (what the
 * user's globals reach) only from the root or another owned node. A retainer slot holds
 * the source node in its low 30 bits and that answer for its edge in bit 31.
 */
export interface DominatorInput {
  nodeCount: number;
  root: number;
  firstEdge: Uint32Array;
  edges: Uint32Array;
  stride: number;
  toOffset: number;
  firstRetainer: Uint32Array;
  retainers: Uint32Array;
  typeOffset: number;
  weakType: number;
  shortcutType: number;
  owned: Uint8Array;
  /**
   * Nodes to start more DFS trees from once the root's is done (as if the root had an edge
   * to each): called with what is visited so far.
   */
  extraStarts(visited: { has(node: number): boolean }): Iterable<number>;
}

/** The dominator tree: `idom[n]` (the root's is itself) and nodes in DFS preorder. */
export interface DominatorTree {
  idom: Uint32Array;
  /** Nodes in DFS preorder: every node's dominator comes before it. */
  order: Uint32Array;
  /** How many nodes the DFS reached from the root itself (the rest from extra starts). */
  reachedFromRoot: number;
  /** 8 bytes a node of scratch memory, free for the caller's use. */
  scratch: ArrayBuffer;
}

const NONE = 0xffffffff;

/**
 * Computes the immediate dominator of every node: semi-dominators as in Lengauer-Tarjan
 * (path-compressed eval), then each idom as the nearest common ancestor of the node's DFS
 * parent and its semi-dominator (the SNCA variant: no buckets, fewer arrays, as fast).
 * Memory: six Uint32Arrays and one byte per node while it runs; scratch arrays are reused.
 */
export function dominators(g: DominatorInput): DominatorTree {
  const n = g.nodeCount;
  const { firstEdge, edges, stride, toOffset, firstRetainer, retainers, typeOffset, weakType, shortcutType, owned } = g;
  // dfn[node] = preorder number + 1 (0: not visited); the other arrays are in preorder space.
  const dfn = new Uint32Array(n);
  const vertex = new Uint32Array(n);
  const parent = new Uint32Array(n); // becomes idom (in preorder space) in place
  // semi and ancestor share one buffer that the caller gets back as scratch (8 bytes a
  // node: room for a Float64Array of retained sizes without a new allocation at the peak).
  const scratch = new ArrayBuffer(8 * n);
  const semi = new Uint32Array(scratch, 0, n);
  const label = new Uint32Array(n);
  const ancestor = new Uint32Array(scratch, 4 * n, n);
  const virtualChild = new Uint8Array(n);
  let count = 0;
  // The DFS stack lives in arrays not yet in use: semi (nodes) and label (edge cursors).
  const stackNode = semi, stackEdge = label;
  const dfsFrom = (start: number, startParent: number) => {
    dfn[start] = count + 1; vertex[count] = start; parent[count] = startParent; count++;
    let top = 0;
    stackNode[0] = start; stackEdge[0] = firstEdge[start]!;
    while (top >= 0) {
      const v = stackNode[top]!;
      const e = stackEdge[top]!;
      if (e >= firstEdge[v + 1]!) { top--; continue; }
      stackEdge[top] = e + 1;
      const c = edges[e * stride + toOffset]!;
      if (dfn[c] !== 0) continue;
      const t = edges[e * stride + typeOffset];
      if (t === weakType) continue;
      if (v !== g.root && (t === shortcutType || (owned[c] === 1 && owned[v] !== 1))) continue;
      dfn[c] = count + 1; vertex[count] = c; parent[count] = dfn[v]! - 1; count++;
      top++;
      stackNode[top] = c; stackEdge[top] = firstEdge[c]!;
    }
  };
  dfsFrom(g.root, 0);
  const reachedFromRoot = count;
  const visited = { has: (v: number) => dfn[v] !== 0 };
  for (const s of g.extraStarts(visited)) if (dfn[s] === 0) { virtualChild[s] = 1; dfsFrom(s, 0); }
  // Whatever is still not reached becomes a child of the root.
  for (let v = 0; v < n; v++) if (dfn[v] === 0) { virtualChild[v] = 1; dfsFrom(v, 0); }

  for (let i = 0; i < n; i++) { semi[i] = i; label[i] = i; ancestor[i] = NONE; }
  let path = new Uint32Array(1024);
  const evalNode = (v: number): number => {
    if (ancestor[v] === NONE) return v;
    // Compress the chain up to the node whose ancestor is a forest root.
    let len = 0, x = v;
    while (ancestor[ancestor[x]!] !== NONE) {
      if (len === path.length) { const p2 = new Uint32Array(path.length * 2); p2.set(path); path = p2; }
      path[len++] = x; x = ancestor[x]!;
    }
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
      const slot = retainers[r]!;
      if (slot < 0x80000000) continue; // bit 31: the edge counts
      const u = evalNode(dfn[slot & 0x3fffffff]! - 1);
      if (semi[u]! < s) s = semi[u]!;
    }
    semi[i] = s;
    ancestor[i] = parent[i]!;
  }
  // idom(w) = the nearest common ancestor, in the dominator tree built so far, of w's DFS
  // parent and its semi-dominator: walk up from the parent while above semi(w).
  const idom = parent;
  idom[0] = 0;
  for (let i = 1; i < count; i++) {
    let x = idom[i]!;
    const s = semi[i]!;
    while (x > s) x = idom[x]!;
    idom[i] = x;
  }
  // Back from preorder numbers to node ordinals (into a free array).
  const out = label;
  for (let i = 0; i < count; i++) out[vertex[i]!] = vertex[idom[i]!]!;
  return { idom: out, order: vertex, reachedFromRoot, scratch };
}
