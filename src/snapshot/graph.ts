// The heap graph of one snapshot over typed arrays: nodes, edges, retainers, class names,
// dominators and retained sizes, shortest retainer paths from the GC roots, aggregates.
import { dominators } from './dominators.js';
import type { Progress, RawHeapSnapshot } from './parser.js';

/** One edge of the graph as an object (for reading; algorithms use the accessors). */
export interface Edge {
  /** Edge ordinal. */
  index: number;
  /** context, element, property, internal, hidden, shortcut, weak. */
  type: string;
  /** Property or variable name, or the element index as a string. */
  name: string;
  /** Source node ordinal. */
  from: number;
  /** Target node ordinal. */
  to: number;
}

/** One step of a retainer path: the node reached and the edge that reached it. */
export interface PathStep {
  /** Node ordinal. */
  node: number;
  /** Name of the edge from the previous step ('' for the first step). */
  edgeName: string;
  /** Type of that edge ('' for the first step). */
  edgeType: string;
  /** What a person reads: `cache (variable)`, `.items`, `[3]`, `value of 'key'`, `Map`… */
  label: string;
}

/** Nodes held the same way: one signature, an example path, the nodes and their retained bytes. */
export interface PathCluster {
  signature: string;
  /** The retainer path of the first node. */
  path: PathStep[];
  nodes: number[];
  /** Sum of the nodes' retained sizes. */
  retainedSize: number;
}

/** Per class: how many objects, their own bytes, what they retain, native bytes they own. */
export interface ClassAggregate {
  className: string;
  count: number;
  /** Sum of the objects' own sizes. */
  selfSize: number;
  /**
   * Bytes freed if all objects of the class went: sum of the retained sizes of the objects
   * that no other object of the same class dominates (DevTools' "retained size" column).
   */
  retainedSize: number;
  /** Native backing stores (ArrayBuffer data…) whose nearest JS owner is of this class. */
  nativeSize: number;
}

const NONE = 0xffffffff;
const SOURCE_MASK = 0x3fffffff, STRONG = 0x40000000, COUNTS = 0x80000000;

/** The graph of a heap snapshot; node and edge handles are ordinals (0-based numbers). */
export class HeapGraph {
  /** Number of nodes; node 0 is the root. */
  readonly nodeCount: number;
  /** Number of edges. */
  readonly edgeCount: number;
  /** The snapshot's string table. */
  readonly strings: string[];
  /** Node type names, by type number. */
  readonly nodeTypes: string[];
  /** Edge type names, by type number. */
  readonly edgeTypes: string[];
  /** The parsed snapshot (trace tree, trace function infos, samples, locations). */
  readonly raw: Omit<RawHeapSnapshot, 'nodes' | 'edges' | 'strings'>;

  private readonly nodes: Uint32Array;
  private readonly F: number;
  private readonly oType: number; private readonly oName: number; private readonly oId: number;
  private readonly oSize: number; private readonly oTrace: number; private readonly oDetached: number;
  private readonly edgeArr: Uint32Array;
  private readonly EF: number;
  private readonly eType: number; private readonly eName: number; private readonly eTo: number;
  /** Edge ordinals of node n: [firstEdge[n], firstEdge[n+1]). */
  readonly firstEdge: Uint32Array;
  private readonly tWeak: number; private readonly tShortcut: number; private readonly tElement: number; private readonly tHidden: number;
  private readonly tContext: number; private readonly tProperty: number; private readonly tInternal: number;
  private readonly nHidden: number; private readonly nArray: number; private readonly nObject: number; private readonly nNative: number;
  private readonly nClosure: number; private readonly nString: number; private readonly nCons: number; private readonly nSliced: number;
  private readonly nSynthetic: number; private readonly nCode: number;

  private firstRetainerArr: Uint32Array | undefined;
  /**
   * Per retainer slot: the source node's ordinal in the low 30 bits, bit 30 set when the edge
   * is neither weak nor a shortcut, bit 31 when it keeps its target alive for dominators.
   * The edge itself is found again among the source's edges: storing it would cost 4 bytes
   * per edge for the few readers that need it.
   */
  private retainerSlots: Uint32Array | undefined;
  private ownedArr: Uint8Array | undefined;
  private classOf: Uint32Array | undefined;
  private classNamesArr: string[] = [];
  private idomArr: Uint32Array | undefined;
  private retainedArr: Float64Array | undefined;
  private distanceArr: Uint32Array | undefined;
  private parentEdgeArr: Uint32Array | undefined;
  private parentNodeArr: Uint32Array | undefined;
  private sortedIds: Uint32Array | undefined;
  private sortedOrdinals: Uint32Array | undefined;
  private readonly onProgress: ((p: Progress) => void) | undefined;

  constructor(raw: RawHeapSnapshot, opts: { onProgress?: (p: Progress) => void } = {}) {
    const meta = raw.meta;
    this.onProgress = opts.onProgress;
    this.nodes = raw.nodes;
    this.edgeArr = raw.edges;
    this.strings = raw.strings;
    const { nodes: _n, edges: _e, strings: _s, ...rest } = raw;
    this.raw = rest;
    const nf = meta.node_fields, ef = meta.edge_fields;
    this.F = nf.length; this.EF = ef.length;
    this.oType = nf.indexOf('type'); this.oName = nf.indexOf('name'); this.oId = nf.indexOf('id');
    this.oSize = nf.indexOf('self_size'); this.oTrace = nf.indexOf('trace_node_id'); this.oDetached = nf.indexOf('detachedness');
    const oEdgeCount = nf.indexOf('edge_count');
    this.eType = ef.indexOf('type'); this.eName = ef.indexOf('name_or_index'); this.eTo = ef.indexOf('to_node');
    if ([this.oType, this.oName, this.oId, this.oSize, oEdgeCount, this.eType, this.eName, this.eTo].some((x) => x < 0)) {
      throw new Error('heap snapshot: node or edge fields missing from the header');
    }
    this.nodeTypes = (meta.node_types[0] as string[]).slice();
    this.edgeTypes = (meta.edge_types[0] as string[]).slice();
    const nt = (s: string) => this.nodeTypes.indexOf(s), et = (s: string) => this.edgeTypes.indexOf(s);
    this.tWeak = et('weak'); this.tShortcut = et('shortcut'); this.tElement = et('element'); this.tHidden = et('hidden');
    this.tContext = et('context'); this.tProperty = et('property'); this.tInternal = et('internal');
    this.nHidden = nt('hidden'); this.nArray = nt('array'); this.nObject = nt('object'); this.nNative = nt('native');
    this.nClosure = nt('closure'); this.nString = nt('string'); this.nCons = nt('concatenated string'); this.nSliced = nt('sliced string');
    this.nSynthetic = nt('synthetic'); this.nCode = nt('code');

    const N = this.nodeCount = this.nodes.length / this.F;
    const E = this.edgeCount = this.edgeArr.length / this.EF;
    // Edge targets become node ordinals (V8 writes offsets into the nodes array), in place.
    const F = this.F, EF = this.EF, eTo = this.eTo;
    for (let i = eTo; i < this.edgeArr.length; i += EF) this.edgeArr[i] = this.edgeArr[i]! / F;
    const first = this.firstEdge = new Uint32Array(N + 1);
    let e = 0;
    for (let n = 0; n < N; n++) { first[n] = e; e += this.nodes[n * F + oEdgeCount]!; }
    first[N] = e;
    if (e !== E) throw new Error(`heap snapshot: nodes declare ${e} edges, the edges array holds ${E}`);
  }

  // ---- nodes ----

  private checkNode(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n >= this.nodeCount) throw new RangeError(`not a node ordinal: ${n}`);
  }

  /** Node type: object, closure, string, array, hidden, native, code, synthetic… */
  type(n: number): string { return this.nodeTypes[this.nodes[n * this.F + this.oType]!]!; }
  /** Node name: constructor name for objects, function name for closures, the text for strings. */
  name(n: number): string { return this.strings[this.nodes[n * this.F + this.oName]!]!; }
  /** V8's object id: stable across snapshots of one process. */
  id(n: number): number { return this.nodes[n * this.F + this.oId]!; }
  /** The object's own (shallow) size in bytes. */
  selfSize(n: number): number { return this.nodes[n * this.F + this.oSize]!; }
  /** The allocation trace node id (0 without allocation tracking). */
  traceNodeId(n: number): number { return this.oTrace < 0 ? 0 : this.nodes[n * this.F + this.oTrace]!; }
  /** Detachedness (DOM embedders; 0 = unknown). */
  detachedness(n: number): number { return this.oDetached < 0 ? 0 : this.nodes[n * this.F + this.oDetached]!; }
  /** Number of outgoing edges. */
  edgeCountOf(n: number): number { return this.firstEdge[n + 1]! - this.firstEdge[n]!; }
  /** The root node's ordinal (always 0 in V8 snapshots). */
  get root(): number { return 0; }

  /**
   * DevTools' class ("Constructor" column): the constructor name for objects and native
   * nodes (`Map`, `Buffer`, `system / JSArrayBufferData`), `(closure)`, `(string)`,
   * `(concatenated string)`, `(sliced string)`, `(array)`, `(system)`, `(compiled code)`,
   * `(number)`, `(symbol)`, `(bigint)`, `(object shape)`, `RegExp`.
   */
  className(n: number): string { return this.classNamesArr[this.classIndex(n)]!; }

  /** Every class name; `classIndex(n)` indexes it. */
  get classNames(): readonly string[] { this.buildClasses(); return this.classNamesArr; }

  /** The class of node n as a number (an index into `classNames`). */
  classIndex(n: number): number { return this.buildClasses()[n]!; }

  private buildClasses(): Uint32Array {
    if (this.classOf) return this.classOf;
    const N = this.nodeCount, F = this.F;
    const cls = new Uint32Array(N);
    const byName = new Map<string, number>();
    const intern = (s: string) => {
      let i = byName.get(s);
      if (i === undefined) { i = this.classNamesArr.length; this.classNamesArr.push(s); byName.set(s, i); }
      return i;
    };
    // Per-type class for every type but object/native, whose class is their name.
    const typeClass = this.nodeTypes.map((t) => intern(
      t === 'hidden' ? '(system)' : t === 'code' ? '(compiled code)' : t === 'regexp' ? 'RegExp' : `(${t})`));
    const nameClass = new Map<number, number>();
    const nodes = this.nodes;
    for (let n = 0; n < N; n++) {
      const t = nodes[n * F + this.oType]!;
      if (t === this.nObject || t === this.nNative) {
        const s = nodes[n * F + this.oName]!;
        let c = nameClass.get(s);
        if (c === undefined) { c = intern(this.strings[s] || '(anonymous)'); nameClass.set(s, c); }
        cls[n] = c;
      } else cls[n] = typeClass[t]!;
    }
    this.classOf = cls;
    return cls;
  }

  /** Node ordinals whose class is `className`. */
  findByClass(className: string): number[] {
    const cls = this.buildClasses();
    const want = this.classNamesArr.indexOf(className);
    const out: number[] = [];
    if (want < 0) return out;
    for (let n = 0; n < this.nodeCount; n++) if (cls[n] === want) out.push(n);
    return out;
  }

  /**
   * The GC roots: what V8's synthetic root categories ("(GC roots)" → "(Strong roots)",
   * "(Handle scope)", "(Global handles)"…) and the root's shortcut edges (the user's global
   * objects) hold, without the categories themselves.
   */
  gcRoots(): number[] {
    const out = new Set<number>();
    const seen = new Set<number>([0]);
    const todo = [0];
    while (todo.length) {
      const v = todo.pop()!;
      for (let e = this.firstEdge[v]!; e < this.firstEdge[v + 1]!; e++) {
        const c = this.edgeTarget(e);
        if (this.type(c) === 'synthetic') { if (!seen.has(c)) { seen.add(c); todo.push(c); } } else out.add(c);
      }
    }
    return [...out];
  }

  /** The node ordinal of the object with V8 id `id`, or -1. */
  nodeIndexById(id: number): number {
    if (!this.sortedIds) {
      const N = this.nodeCount;
      const ord = new Uint32Array(N);
      for (let n = 0; n < N; n++) ord[n] = n;
      const idArr = new Uint32Array(N);
      for (let n = 0; n < N; n++) idArr[n] = this.id(n);
      ord.sort((a, b) => idArr[a]! - idArr[b]!);
      const sorted = new Uint32Array(N);
      for (let i = 0; i < N; i++) sorted[i] = idArr[ord[i]!]!;
      this.sortedIds = sorted; this.sortedOrdinals = ord;
    }
    const ids = this.sortedIds;
    let lo = 0, hi = ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid]!;
      if (v === id) return this.sortedOrdinals![mid]!;
      if (v < id) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  /** Whether an object with V8 id `id` is in this snapshot. */
  hasId(id: number): boolean { return this.nodeIndexById(id) >= 0; }

  // ---- edges ----

  /** Type number of edge e (see `edgeTypes`). */
  edgeTypeIndex(e: number): number { return this.edgeArr[e * this.EF + this.eType]!; }
  /** Type name of edge e. */
  edgeType(e: number): string { return this.edgeTypes[this.edgeTypeIndex(e)]!; }
  /** Name of edge e: a property/variable name, or the index for element and hidden edges. */
  edgeName(e: number): string {
    const t = this.edgeTypeIndex(e), v = this.edgeArr[e * this.EF + this.eName]!;
    return t === this.tElement || t === this.tHidden ? String(v) : this.strings[v] ?? String(v);
  }
  /** Target node of edge e. */
  edgeTarget(e: number): number { return this.edgeArr[e * this.EF + this.eTo]!; }
  /** Whether edge e is weak (does not keep its target alive). */
  isWeakEdge(e: number): boolean { return this.edgeTypeIndex(e) === this.tWeak; }

  /** The outgoing edges of node n. */
  *edges(n: number): IterableIterator<Edge> {
    for (let e = this.firstEdge[n]!, end = this.firstEdge[n + 1]!; e < end; e++) {
      yield { index: e, type: this.edgeType(e), name: this.edgeName(e), from: n, to: this.edgeTarget(e) };
    }
  }

  /** The edges that point at node n (its retainers), weak ones included. */
  *retainers(n: number): IterableIterator<Edge> {
    this.checkNode(n);
    for (const [from, e] of this.retainerEdges(n)) {
      yield { index: e, type: this.edgeType(e), name: this.edgeName(e), from, to: n };
    }
  }

  /** [source node, edge] of each edge into node n. */
  private *retainerEdges(n: number): IterableIterator<[number, number]> {
    this.buildRetainers();
    const first = this.firstRetainerArr!, slots = this.retainerSlots!;
    let last = -1;
    for (let r = first[n]!, end = first[n + 1]!; r < end; r++) {
      const from = slots[r]! & SOURCE_MASK;
      // A node with several edges to n has adjacent slots: its edges are listed once.
      if (from === last) continue;
      last = from;
      for (let e = this.firstEdge[from]!, eEnd = this.firstEdge[from + 1]!; e < eEnd; e++) {
        if (this.edgeTarget(e) === n) yield [from, e];
      }
    }
  }

  private buildRetainers(): void {
    if (this.firstRetainerArr) return;
    const N = this.nodeCount, E = this.edgeCount, EF = this.EF, eTo = this.eTo, eType = this.eType, edges = this.edgeArr;
    if (N > SOURCE_MASK) throw new Error(`heap snapshot: ${N} nodes is more than this reader handles (${SOURCE_MASK})`);
    const owned = this.ownedArr = this.userOwned();
    const tWeak = this.tWeak, tShortcut = this.tShortcut, firstEdge = this.firstEdge;
    const first = new Uint32Array(N + 1);
    for (let e = 0; e < E; e++) first[edges[e * EF + eTo]! + 1]!++;
    for (let n = 0; n < N; n++) first[n + 1]! += first[n]!;
    // Fill each node's range through first[] itself (it ends one range ahead), then shift it
    // back: no second N-sized cursor array.
    const slots = new Uint32Array(E);
    for (let n = 0; n < N; n++) {
      const fromOwned = n === 0 || owned[n] === 1;
      for (let e = firstEdge[n]!, end = firstEdge[n + 1]!; e < end; e++) {
        const c = edges[e * EF + eTo]!;
        const t = edges[e * EF + eType];
        let v = n;
        if (t !== tWeak && t !== tShortcut) v |= STRONG;
        // DevTools' rules (see computeDominators).
        if (t !== tWeak && (t !== tShortcut || n === 0) && (fromOwned || owned[c] !== 1)) v |= COUNTS;
        slots[first[c]!++] = v >>> 0;
      }
    }
    for (let n = N; n > 0; n--) first[n] = first[n - 1]!;
    first[0] = 0;
    this.firstRetainerArr = first; this.retainerSlots = slots;
  }

  // ---- dominators and retained sizes ----

  /**
   * Objects reachable from the user's global objects (the root's shortcut edges) through
   * non-weak edges: DevTools' "page owned" flag. An edge from a node outside this set into
   * it does not count for dominators, so that what the program holds is not charged to
   * V8's or the debugger's internal references.
   */
  private userOwned(): Uint8Array {
    const N = this.nodeCount, EF = this.EF, edges = this.edgeArr, first = this.firstEdge;
    const owned = new Uint8Array(N);
    const queue = new Uint32Array(N);
    let len = 0;
    for (let e = first[0]!; e < first[1]!; e++) {
      if (edges[e * EF + this.eType] !== this.tShortcut) continue;
      const c = edges[e * EF + this.eTo]!;
      if (!owned[c]) { owned[c] = 1; queue[len++] = c; }
    }
    while (len) {
      const v = queue[--len]!;
      for (let e = first[v]!, end = first[v + 1]!; e < end; e++) {
        if (edges[e * EF + this.eType] === this.tWeak) continue;
        const c = edges[e * EF + this.eTo]!;
        if (!owned[c]) { owned[c] = 1; queue[len++] = c; }
      }
    }
    return owned;
  }

  private computeDominators(): void {
    if (this.idomArr) return;
    this.buildRetainers();
    const N = this.nodeCount, EF = this.EF, edges = this.edgeArr;
    const owned = this.ownedArr!;
    const tWeak = this.tWeak, tShortcut = this.tShortcut, eType = this.eType, eTo = this.eTo;
    const first = this.firstRetainerArr!, slots = this.retainerSlots!;
    // DevTools' rules (weak edges never count; shortcut edges only from the root; an edge
    // into a user-owned node only from the root or another user-owned node) are applied by
    // the DFS from `owned` and the edge types, and carried by the retainer slots (bit 31).
    // Nodes held only by weak or shortcut edges are treated as children of the root, as
    // DevTools does, so their subgraphs get dominators too.
    const extraStarts = function* (visited: { has(node: number): boolean }) {
      for (let v = 0; v < N; v++) {
        if (visited.has(v)) continue;
        let onlyWeak = true;
        for (let r = first[v]!, end = first[v + 1]!; r < end; r++) {
          if ((slots[r]! & STRONG) !== 0) { onlyWeak = false; break; }
        }
        if (onlyWeak) yield v;
      }
    };
    this.onProgress?.({ phase: 'dominators', done: 0, total: N });
    const tree = dominators({
      nodeCount: N, root: 0, firstEdge: this.firstEdge, edges, stride: EF, toOffset: eTo,
      firstRetainer: first, retainers: slots, typeOffset: eType, weakType: tWeak, shortcutType: tShortcut, owned, extraStarts,
    });
    this.idomArr = tree.idom;
    const retained = new Float64Array(tree.scratch, 0, N);
    for (let n = 0; n < N; n++) retained[n] = this.nodes[n * this.F + this.oSize]!;
    const order = tree.order, idom = tree.idom;
    for (let i = N - 1; i >= 1; i--) { const v = order[i]!; retained[idom[v]!]! += retained[v]!; }
    this.retainedArr = retained;
    this.onProgress?.({ phase: 'dominators', done: N, total: N });
  }

  /** The immediate dominator of node n (the root's is the root). */
  dominator(n: number): number { this.computeDominators(); return this.idomArr![n]!; }

  /** Bytes freed if node n went: its own size plus everything only it keeps alive. */
  retainedSize(n: number): number { this.computeDominators(); return this.retainedArr![n]!; }

  /** Retained sizes of every node (computes the dominator tree once). */
  retainedSizes(): Float64Array { this.computeDominators(); return this.retainedArr!; }

  /** Immediate dominators of every node. */
  dominators(): Uint32Array { this.computeDominators(); return this.idomArr!; }

  // ---- retainer paths ----

  private computeDistances(): void {
    if (this.distanceArr) return;
    const N = this.nodeCount, EF = this.EF, edges = this.edgeArr, first = this.firstEdge, nodes = this.nodes, F = this.F;
    const dist = new Uint32Array(N).fill(NONE);
    const pEdge = new Uint32Array(N).fill(NONE);
    const pNode = new Uint32Array(N).fill(NONE);
    const queue = new Uint32Array(N);
    const sloppy = this.strings.indexOf('sloppy_function_map');
    const nativeContext = this.strings.indexOf('system / NativeContext');
    const mapDescriptors = this.strings.indexOf('(map descriptors)');
    // DevTools' distance filter: skip a native context's sloppy_function_map and the
    // descriptor links of (map descriptors) arrays, which maps share.
    const skip = (v: number, e: number): boolean => {
      const t = nodes[v * F + this.oType];
      const nm = nodes[v * F + this.oName];
      if (t === this.nHidden) return nm === nativeContext && edges[e * EF + this.eName] === sloppy && edges[e * EF + this.eType] !== this.tElement && edges[e * EF + this.eType] !== this.tHidden;
      if (t === this.nArray && nm === mapDescriptors) {
        const idx = Number(this.edgeName(e));
        return !(idx < 2 || idx % 3 !== 1);
      }
      return false;
    };
    const bfs = (start: number, len: number) => {
      let head = start;
      while (head < len) {
        const v = queue[head++]!;
        const d = dist[v]! + 1;
        for (let e = first[v]!, end = first[v + 1]!; e < end; e++) {
          if (edges[e * EF + this.eType] === this.tWeak) continue;
          const c = edges[e * EF + this.eTo]!;
          if (dist[c] !== NONE || skip(v, e)) continue;
          dist[c] = d; pEdge[c] = e; pNode[c] = v;
          queue[len++] = c;
        }
      }
      return len;
    };
    // First from the user's roots (the root's children that are not synthetic: global
    // objects), so paths go through what the program holds; then from the root for the rest.
    let len = 0;
    for (let e = first[0]!; e < first[1]!; e++) {
      const c = edges[e * EF + this.eTo]!;
      if (nodes[c * F + this.oType] === this.nSynthetic || dist[c] !== NONE) continue;
      dist[c] = 1; pEdge[c] = e; pNode[c] = 0; queue[len++] = c;
    }
    len = bfs(0, len);
    dist[0] = 0;
    queue[len] = 0;
    bfs(len, len + 1);
    this.distanceArr = dist; this.parentEdgeArr = pEdge; this.parentNodeArr = pNode;
  }

  /** Edges from the root to node n along a shortest path (-1 when n is unreachable). */
  distance(n: number): number { this.computeDistances(); const d = this.distanceArr![n]!; return d === NONE ? -1 : d; }

  /**
   * The shortest path from a GC root to node n through edges that keep objects alive, as
   * steps from the root's child to n, each labelled for a person to read. Empty if n is
   * unreachable. `maxDepth` bounds the number of steps kept (the ones nearest n).
   */
  retainerPath(n: number, opts: { maxDepth?: number } = {}): PathStep[] {
    this.checkNode(n);
    this.computeDistances();
    const pEdge = this.parentEdgeArr!, pNode = this.parentNodeArr!;
    const steps: PathStep[] = [];
    let v = n;
    if (v !== 0 && pNode[v] === NONE) return steps;
    while (v !== 0 && v !== NONE) {
      const e = pEdge[v]!;
      steps.push({ node: v, edgeName: this.edgeName(e), edgeType: this.edgeType(e), label: this.edgeLabel(pNode[v]!, e) });
      v = pNode[v]!;
    }
    steps.reverse();
    const max = opts.maxDepth ?? Infinity;
    return steps.length > max ? steps.slice(steps.length - max) : steps;
  }

  /** How a person names edge e from node `from`: `cache (variable)`, `.items`, `[3]`, `value of 'k'`… */
  edgeLabel(from: number, e: number): string {
    const t = this.edgeTypeIndex(e), name = this.edgeName(e);
    if (t === this.tContext) return `${name} (variable)`;
    if (t === this.tProperty) return `.${name}`;
    if (t === this.tShortcut) return name;
    if (t === this.tHidden) {
      const local = this.unnamedContextLocal(from, name);
      if (local !== undefined) return `${local} (variable)`;
    }
    const numeric = t === this.tElement || t === this.tHidden || /^\d+$/.test(name);
    if (numeric) {
      const entry = this.mapEntryLabel(from, e);
      if (entry) return entry;
      return t === this.tHidden ? `(hidden ${name})` : `[${name}]`;
    }
    return name; // internal: context, table, elements, backing_store…
  }

  // V8 names the variables of a declaration context only; a block context's (a `{ }` block, or
  // the body of a function whose lexical declarations get a scope of their own: how vite and
  // vitest run every module) come as hidden edges 0, 1, 2…, numbered over the slots that hold a
  // heap object (a small integer gets no edge). Its ScopeInfo's first hidden edges are the local
  // names in slot order. So edges and locals align in order with gaps where a local held a small
  // integer: a closure edge whose function has a local's name (a function or class declaration)
  // pins the alignment; between two pins, edge i of e can be local i to i + (l - e) of l. The
  // label names every local the edge can be: one when no slot was skipped, else "a or b".
  private unnamedContextLocal(context: number, slot: string): string | undefined {
    if (this.name(context) !== 'system / Context') return undefined;
    const first = this.firstEdge[context]!, end = this.firstEdge[context + 1]!;
    let scopeInfo = -1;
    const targets: number[] = [];
    for (let e = first; e < end; e++) {
      const t = this.edgeTypeIndex(e);
      if (t === this.tHidden) {
        if (this.edgeName(e) !== String(targets.length)) return undefined;
        targets.push(this.edgeTarget(e));
      } else if (t === this.tInternal && this.edgeName(e) === 'scope_info') scopeInfo = this.edgeTarget(e);
    }
    if (scopeInfo < 0 || this.name(scopeInfo) !== 'system / ScopeInfo') return undefined;
    const names: string[] = [];
    for (let e = this.firstEdge[scopeInfo]!; e < this.firstEdge[scopeInfo + 1]!; e++) {
      if (this.edgeTypeIndex(e) !== this.tHidden) continue;
      if (!this.isStringNode(this.edgeTarget(e)) || this.edgeName(e) !== String(names.length)) break;
      names.push(this.name(this.edgeTarget(e)));
    }
    const k = Number(slot);
    if (!(k < targets.length) || names.length < targets.length) return undefined;
    // Pins: edge index → local index, increasing; the ends pin the segments.
    const pins: [number, number][] = [[-1, -1]];
    for (let i = 0; i < targets.length; i++) {
      if (this.type(targets[i]!) !== 'closure') continue;
      const at = names.indexOf(this.name(targets[i]!));
      if (at < 0 || names.indexOf(this.name(targets[i]!), at + 1) >= 0) continue;
      const [pe, pl] = pins[pins.length - 1]!;
      if (at - pl >= i - pe && at - i <= names.length - targets.length) pins.push([i, at]);
    }
    pins.push([targets.length, names.length]);
    for (let p = 1; p < pins.length; p++) {
      const [e0, l0] = pins[p - 1]!, [e1, l1] = pins[p]!;
      if (k === e1) return names[l1];
      if (k > e0 && k < e1) {
        const slack = (l1 - l0) - (e1 - e0);
        const from = l0 + (k - e0);
        const candidates = names.slice(from, from + slack + 1);
        return candidates.length <= 3 ? candidates.join(' or ') : undefined;
      }
    }
    return undefined;
  }

  // A Map's or Set's entries live in its hash table, an array whose slots hold key, value,
  // chain, key, value…: name a value by its key (the slot just before it).
  private mapEntryLabel(table: number, e: number): string | undefined {
    const owner = this.collectionOf(table);
    if (owner < 0) return undefined;
    const ownerName = this.name(owner);
    const idx = Number(this.edgeName(e));
    if (ownerName === 'Map' || ownerName === 'WeakMap') {
      const first = this.firstEdge[table]!;
      for (let k = e - 1; k >= first; k--) {
        const ki = Number(this.edgeName(k));
        if (ki === idx - 1) {
          const key = this.edgeTarget(k);
          // This slot is itself a key when the slot after it is its value.
          const next = e + 1 < this.firstEdge[table + 1]! ? Number(this.edgeName(e + 1)) : -1;
          if (next === idx + 1 && this.isStringNode(this.edgeTarget(e)) && !this.isStringNode(key)) break;
          return `value of key ${this.describeKey(key)}`;
        }
        if (ki < idx - 1) break;
      }
      return `${ownerName} entry`;
    }
    return `${ownerName} entry`;
  }

  private isStringNode(n: number): boolean {
    const t = this.nodes[n * this.F + this.oType]!;
    return t === this.nString || t === this.nCons || t === this.nSliced;
  }

  /**
   * The text of a string node (up to about `max` characters): a concatenated string's parts
   * joined (V8 names such a node "(concatenated string)"); undefined for other nodes.
   */
  stringValue(n: number, max = 1000): string | undefined {
    const t = this.nodes[n * this.F + this.oType]!;
    if (t !== this.nCons) return t === this.nString || t === this.nSliced ? this.name(n) : undefined;
    let out = '';
    const todo = [n];
    while (todo.length && out.length < max) {
      const v = todo.pop()!;
      if (this.nodes[v * this.F + this.oType] !== this.nCons) { out += this.name(v); continue; }
      let a = -1, b = -1;
      for (let e = this.firstEdge[v]!; e < this.firstEdge[v + 1]!; e++) {
        const nm = this.edgeName(e);
        if (nm === 'first') a = this.edgeTarget(e); else if (nm === 'second') b = this.edgeTarget(e);
      }
      if (b >= 0) todo.push(b);
      if (a >= 0) todo.push(a);
    }
    return out;
  }

  private describeKey(k: number): string {
    const t = this.nodes[k * this.F + this.oType]!;
    if (t === this.nString || t === this.nCons || t === this.nSliced) {
      const s = this.stringValue(k, 64)!;
      return JSON.stringify(s.length > 60 ? `${s.slice(0, 57).trimEnd()}…` : s);
    }
    return `${this.className(k)} @${this.id(k)}`;
  }

  // The Map/Set (JS object) whose `table` internal edge points at node `table`, or -1.
  private collectionOf(table: number): number {
    const t = this.nodes[table * this.F + this.oType]!;
    if (t !== this.nArray && t !== this.nHidden && t !== this.nObject) return -1;
    for (const [o, e] of this.retainerEdges(table)) {
      if (this.edgeTypeIndex(e) !== this.tInternal || this.edgeName(e) !== 'table') continue;
      const nm = this.name(o);
      if (nm === 'Map' || nm === 'Set' || nm === 'WeakMap' || nm === 'WeakSet') return o;
    }
    return -1;
  }

  /**
   * A node as a person reads it: `Map (6000 entries)`, `(closure handler)`, `Buffer`,
   * `(string) "abc…"`, `system / Context`.
   */
  describe(n: number): string {
    const t = this.nodes[n * this.F + this.oType]!;
    if (t === this.nClosure) return `(closure ${this.name(n) || 'anonymous'})`;
    if (t === this.nString || t === this.nCons || t === this.nSliced) {
      const s = this.stringValue(n, 48)!;
      return `${this.className(n)} ${JSON.stringify(s.length > 40 ? `${s.slice(0, 37).trimEnd()}…` : s)}`;
    }
    if (t === this.nHidden || t === this.nArray || t === this.nCode || t === this.nSynthetic) return this.name(n) || this.className(n);
    const cls = this.className(n);
    const size = this.collectionSize(n);
    return size >= 0 ? `${cls} (${size} ${size === 1 ? 'entry' : 'entries'})` : cls;
  }

  /**
   * Entries of a Map/Set, or elements of an Array, counted from the snapshot's edges (heap
   * values only: small integers are not nodes); -1 for other objects.
   */
  collectionSize(n: number): number {
    const nm = this.name(n);
    if (this.nodes[n * this.F + this.oType] !== this.nObject) return -1;
    if (nm === 'Map' || nm === 'Set') {
      for (let e = this.firstEdge[n]!; e < this.firstEdge[n + 1]!; e++) {
        if (this.edgeTypeIndex(e) === this.tInternal && this.edgeName(e) === 'table') {
          // Slots of the table that hold heap values; for a Map, a key and its value sit in
          // adjacent slots and count as one entry.
          const table = this.edgeTarget(e);
          let entries = 0, last = -2;
          for (let k = this.firstEdge[table]!; k < this.firstEdge[table + 1]!; k++) {
            const idx = Number(this.edgeName(k));
            if (!Number.isInteger(idx)) continue;
            if (nm === 'Map' && idx === last + 1) { last = -2; continue; }
            entries++; last = idx;
          }
          return entries;
        }
      }
      return 0;
    }
    if (nm === 'Array') {
      let count = 0;
      for (let e = this.firstEdge[n]!; e < this.firstEdge[n + 1]!; e++) {
        if (this.edgeTypeIndex(e) === this.tElement) count++;
        else if (this.edgeTypeIndex(e) === this.tInternal && this.edgeName(e) === 'elements') {
          const el = this.edgeTarget(e);
          for (let k = this.firstEdge[el]!; k < this.firstEdge[el + 1]!; k++) if (this.edgeTypeIndex(k) === this.tElement) count++;
        }
      }
      return count;
    }
    return -1;
  }

  /** A retainer path as one line: `(closure handler) → context → cache (variable) → Map (6000 entries)`. */
  formatPath(steps: PathStep[]): string {
    const parts: string[] = [];
    steps.forEach((s, i) => {
      if (i > 0 || s.edgeType === 'element' || s.edgeType === 'property' || s.edgeType === 'context') parts.push(s.label);
      // A closure's context is named by the edge already ("→ context → cache (variable)").
      if (s.edgeName === 'context' && this.name(s.node) === 'system / Context') return;
      parts.push(this.describe(s.node));
    });
    return parts.join(' → ');
  }

  /**
   * A key that groups similar paths: the edge labels and classes along the path, with
   * element indices and Map keys dropped, so that the paths to 6000 cache entries are one.
   */
  pathSignature(steps: PathStep[]): string {
    return steps.map((s) => {
      const edge = s.label.startsWith('value of key ') ? '[value]' : s.label.replace(/\d+/g, '·');
      return `${edge}:${this.className(s.node)}`;
    }).join('/');
  }

  /**
   * Groups nodes whose retainer paths have the same signature (see `pathSignature`): one
   * cluster per way of being held, biggest retained size first, each with one example path.
   */
  clusterPaths(nodes: Iterable<number>, opts: { maxDepth?: number } = {}): PathCluster[] {
    const byKey = new Map<string, PathCluster>();
    for (const n of nodes) {
      const steps = this.retainerPath(n, opts);
      const key = this.pathSignature(steps);
      let c = byKey.get(key);
      if (!c) { c = { signature: key, path: steps, nodes: [], retainedSize: 0 }; byKey.set(key, c); }
      c.nodes.push(n);
      c.retainedSize += this.retainedSize(n);
    }
    return [...byKey.values()].sort((a, b) => b.retainedSize - a.retainedSize || b.nodes.length - a.nodes.length);
  }

  // ---- aggregates ----

  /** The nearest JS object (object or closure) that dominates node n, or -1. */
  jsOwner(n: number): number {
    this.computeDominators();
    const idom = this.idomArr!;
    let v = idom[n]!;
    while (v !== 0) {
      const t = this.nodes[v * this.F + this.oType]!;
      if (t === this.nObject || t === this.nClosure) {
        if (!this.name(v).startsWith('system /')) return v;
      }
      v = idom[v]!;
    }
    return -1;
  }

  /**
   * Count, self size, retained size and owned native size per class, biggest retained
   * first. Everything is included: strings, arrays, closures, code, native stores.
   */
  aggregateByClass(): ClassAggregate[] {
    const cls = this.buildClasses();
    this.computeDominators();
    const K = this.classNamesArr.length, N = this.nodeCount;
    const count = new Float64Array(K), self = new Float64Array(K), ret = new Float64Array(K), nat = new Float64Array(K);
    for (let n = 0; n < N; n++) { count[cls[n]!]!++; self[cls[n]!]! += this.selfSize(n); }
    // Retained per class counts a node unless a dominator of it has the same class: walk the
    // dominator tree in preorder keeping, per class, how many ancestors on the current path
    // have it (an explicit walk over the dominator tree's children lists).
    const idom = this.idomArr!, retained = this.retainedArr!;
    const firstChild = new Uint32Array(N + 1);
    for (let n = 1; n < N; n++) firstChild[idom[n]! + 1]!++;
    for (let n = 0; n < N; n++) firstChild[n + 1]! += firstChild[n]!;
    const fill = firstChild.slice(0, N);
    const children = new Uint32Array(Math.max(0, N - 1));
    for (let n = 1; n < N; n++) children[fill[idom[n]!]!++] = n;
    const onPath = new Uint32Array(K);
    const stackNode = new Uint32Array(N), stackChild = new Uint32Array(N);
    let top = 0;
    stackNode[0] = 0; stackChild[0] = firstChild[0]!;
    onPath[cls[0]!]!++;
    while (top >= 0) {
      const v = stackNode[top]!;
      const c = stackChild[top]!;
      if (c >= firstChild[v + 1]!) { onPath[cls[v]!]!--; top--; continue; }
      stackChild[top] = c + 1;
      const w = children[c]!;
      const k = cls[w]!;
      if (onPath[k] === 0) ret[k]! += retained[w]!;
      onPath[k]!++;
      top++;
      stackNode[top] = w; stackChild[top] = firstChild[w]!;
    }
    for (let n = 0; n < N; n++) {
      if (this.nodes[n * this.F + this.oType] !== this.nNative) continue;
      const size = this.selfSize(n);
      if (size === 0) continue;
      const owner = this.jsOwner(n);
      if (owner >= 0) nat[cls[owner]!]! += size;
    }
    const out: ClassAggregate[] = [];
    for (let k = 0; k < K; k++) {
      if (count[k] === 0) continue;
      out.push({ className: this.classNamesArr[k]!, count: count[k]!, selfSize: self[k]!, retainedSize: ret[k]!, nativeSize: nat[k]! });
    }
    out.sort((a, b) => b.retainedSize - a.retainedSize || b.selfSize - a.selfSize);
    return out;
  }

  /** Sum of all nodes' self sizes (the heap the snapshot shows). */
  totalSize(): number {
    let s = 0;
    for (let n = 0; n < this.nodeCount; n++) s += this.selfSize(n);
    return s;
  }
}

/**
 * Node ordinals of `after` whose objects are not in `before` (by V8 object id: ids are
 * stable between snapshots of one process), i.e. born between the two snapshots.
 */
export function bornBetween(before: HeapGraph, after: HeapGraph): number[] {
  const out: number[] = [];
  for (let n = 0; n < after.nodeCount; n++) if (!before.hasId(after.id(n))) out.push(n);
  return out;
}
