// A streaming reader of V8 .heapsnapshot files. The file is one JSON object whose big parts
// are flat arrays of integers (nodes, edges) and an array of strings; it is read in chunks
// of bytes and each array is tokenized straight into a typed array, so no string of the
// whole file exists (a snapshot can be bigger than V8's maximum string length, ~512 MB) and
// no JS object is made per node. Small parts (the `snapshot` header, `trace_tree`) are
// JSON.parse'd as they end.

/** The `snapshot.meta` header: field and type names of the flat arrays. */
export interface SnapshotMeta {
  node_fields: string[];
  node_types: unknown[];
  edge_fields: string[];
  edge_types: unknown[];
  trace_function_info_fields?: string[];
  trace_node_fields?: string[];
  sample_fields?: string[];
  location_fields?: string[];
}

/** A parsed snapshot's raw arrays, as V8 wrote them (edge targets still node-array offsets). */
export interface RawHeapSnapshot {
  meta: SnapshotMeta;
  /** `node_fields.length` integers per node. */
  nodes: Uint32Array;
  /** `edge_fields.length` integers per edge. */
  edges: Uint32Array;
  strings: string[];
  traceFunctionInfos: Uint32Array;
  /** V8's allocation trace tree (nested arrays), empty without allocation tracking. */
  traceTree: unknown[];
  samples: Float64Array;
  locations: Uint32Array;
}

/** Progress of long work: `phase`, and `done` of `total` (bytes while parsing, else steps). */
export interface Progress {
  phase: 'parse' | 'graph' | 'dominators' | 'distances';
  done: number;
  total: number;
}

/** A file that is not a (complete) V8 heap snapshot. */
export class SnapshotFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotFormatError';
  }
}

const enum S { Top, Key, Colon, Value, Numbers, Strings, Capture, Done }
const Q = 0x22, BS = 0x5c, COMMA = 0x2c, LBRACE = 0x7b, RBRACE = 0x7d, LBRACK = 0x5b, RBRACK = 0x5d, COLON = 0x3a;
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Where the tokenizer of a numeric array is: the array, how much is filled, a number cut by a chunk's end. */
interface NumberState {
  arr: Uint32Array;
  len: number;
  cur: number;
  inNum: boolean;
}

// The tokenizer's registers, module-level so that the hot loop touches no object property:
// property stores after a loop that V8 compiled while it ran (on-stack replacement) lack type
// feedback and deoptimized the function at every chunk (measured: 3x slower). A parser
// loads its own state here before each call and saves it after.
let nArr: Uint32Array = new Uint32Array(0), nLen = 0, nCur = 0, nIn = false;

/**
 * The hot loop: decimal digits straight into a Uint32Array, from `i` to `end` (the caller
 * stops `end` at the closing bracket, found with indexOf). Returns false on a byte that is
 * neither a digit nor a separator. One array type, locals only, one unsigned compare per
 * digit: it reads ~75% of a snapshot.
 */
function scanNumbers(buf: Uint8Array, i: number, end: number): boolean {
  let arr = nArr, len = nLen, cur = nCur, inNum = nIn;
  let ok = true;
  for (; i < end; i++) {
    const d = buf[i]! - 48;
    if (d >>> 0 < 10) { cur = cur * 10 + d; inNum = true; continue; }
    if (inNum) {
      if (len === arr.length) { const bigger = new Uint32Array(Math.max(1024, arr.length * 2)); bigger.set(arr); arr = bigger; }
      arr[len++] = cur;
      cur = 0; inNum = false;
    }
    // ',' '\n' ' ' '\r' '\t'
    if (d !== -4 && d !== -38 && d !== -16 && d !== -35 && d !== -39) { ok = false; break; }
  }
  nArr = arr; nLen = len; nCur = cur; nIn = inNum;
  return ok;
}

// Arrays of unsigned integers read by the tokenizer (V8 writes trace lines and columns +1,
// unsigned); `samples` holds microsecond timestamps that can pass 2^32, so it is JSON.parse'd.
const NUMERIC_KEYS = new Set(['nodes', 'edges', 'locations', 'trace_function_infos']);

/**
 * A push parser: feed it the file's bytes in chunks of any size with `write`, then `end()`
 * returns the raw snapshot. Throws SnapshotFormatError on anything that is not a snapshot.
 */
export class SnapshotParser {
  private state = S.Top;
  private key = '';
  private keyBytes: number[] = [];
  private meta: SnapshotMeta | undefined;
  private nodeCount = 0;
  private edgeCount = 0;
  // numbers (nodes, edges)
  private num: NumberState | undefined;
  // strings
  private strings: string[] = [];
  private inString = false;
  private pending: Buffer[] = [];
  private pendingSlashes = 0;
  // generic capture of a small JSON value
  private capture: Buffer[] = [];
  private depth = 0;
  private capInString = false;
  private capEscape = false;
  private readonly out: Partial<RawHeapSnapshot> & { [k: string]: unknown } = {};
  /** Bytes consumed so far. */
  bytes = 0;

  /** Parses the next chunk of the file. */
  write(chunk: Uint8Array | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let i = 0;
    const end = buf.length;
    while (i < end) {
      switch (this.state) {
        case S.Top: {
          const c = buf[i++]!;
          if (isSpace(c)) break;
          if (c === LBRACE) { this.state = S.Key; break; }
          throw this.notSnapshot();
        }
        case S.Key: {
          const c = buf[i++]!;
          if (isSpace(c) || c === COMMA) break;
          if (c === RBRACE) { this.state = S.Done; break; }
          if (c !== Q) throw this.notSnapshot();
          this.keyBytes = [];
          // Keys are short ASCII: read byte by byte (across chunks).
          this.state = S.Colon;
          this.key = '\u0000';
          break;
        }
        case S.Colon: {
          const c = buf[i++]!;
          if (this.key === '\u0000') {
            if (c === Q) { this.key = Buffer.from(this.keyBytes).toString('utf8'); break; }
            if (this.keyBytes.length > 256) throw this.notSnapshot();
            this.keyBytes.push(c);
            break;
          }
          if (isSpace(c)) break;
          if (c !== COLON) throw this.notSnapshot();
          this.state = S.Value;
          break;
        }
        case S.Value: {
          const c = buf[i]!;
          if (isSpace(c)) { i++; break; }
          if (this.key === 'snapshot' || !(NUMERIC_KEYS.has(this.key) || this.key === 'strings')) {
            if (this.key !== 'snapshot' && !this.meta) throw this.notSnapshot();
            this.startCapture();
            break;
          }
          if (!this.meta) throw this.notSnapshot();
          if (c !== LBRACK) throw new SnapshotFormatError(`heap snapshot: "${this.key}" is not an array`);
          i++;
          if (this.key === 'strings') { this.state = S.Strings; this.inString = false; break; }
          this.startNumbers();
          break;
        }
        case S.Numbers:
          i = this.numbers(buf, i, end);
          break;
        case S.Strings:
          i = this.stringsChunk(buf, i, end);
          break;
        case S.Capture:
          i = this.captureChunk(buf, i, end);
          break;
        case S.Done: {
          const c = buf[i++]!;
          if (!isSpace(c)) throw new SnapshotFormatError('heap snapshot: data after the end of the JSON object');
          break;
        }
      }
    }
    this.bytes += end;
  }

  private notSnapshot(): SnapshotFormatError {
    return new SnapshotFormatError(this.meta
      ? `heap snapshot: unexpected data in "${this.key}" near byte ${this.bytes}`
      : 'not a V8 heap snapshot (expected a JSON object starting with "snapshot": {"meta": …})');
  }

  private startNumbers(): void {
    const F = this.meta!.node_fields.length, EF = this.meta!.edge_fields.length;
    const size = this.key === 'nodes' ? this.nodeCount * F : this.key === 'edges' ? this.edgeCount * EF : 1024;
    this.num = { arr: new Uint32Array(size), len: 0, cur: 0, inNum: false };
    this.state = S.Numbers;
  }

  private numbers(buf: Buffer, i: number, end: number): number {
    const st = this.num!;
    const close = buf.indexOf(RBRACK, i);
    const stop = close < 0 || close > end ? end : close;
    nArr = st.arr; nLen = st.len; nCur = st.cur; nIn = st.inNum;
    const ok = scanNumbers(buf, i, stop);
    st.arr = nArr; st.len = nLen; st.cur = nCur; st.inNum = nIn;
    nArr = new Uint32Array(0);
    if (!ok) throw this.notSnapshot();
    if (stop === end) return end;
    if (st.inNum) {
      if (st.len === st.arr.length) { const bigger = new Uint32Array(st.arr.length + 1); bigger.set(st.arr); st.arr = bigger; }
      st.arr[st.len++] = st.cur;
    }
    const arr = st.len === st.arr.length ? st.arr : st.arr.slice(0, st.len);
    if (this.key === 'nodes') this.out.nodes = arr;
    else if (this.key === 'edges') this.out.edges = arr;
    else if (this.key === 'locations') this.out.locations = arr;
    else this.out.traceFunctionInfos = arr;
    this.num = undefined;
    this.state = S.Key;
    return stop + 1;
  }

  private stringsChunk(buf: Buffer, i: number, end: number): number {
    while (i < end) {
      if (!this.inString) {
        const c = buf[i++]!;
        if (c === Q) { this.inString = true; this.pending = []; this.pendingSlashes = 0; continue; }
        if (c === COMMA || isSpace(c)) continue;
        if (c === RBRACK) { this.state = S.Key; return i; }
        throw this.notSnapshot();
      }
      // Find the closing quote: one not preceded by an odd run of backslashes.
      let q = i;
      for (;;) {
        q = buf.indexOf(Q, q);
        if (q < 0) break;
        let slashes = 0, j = q - 1;
        while (j >= i && buf[j] === BS) { slashes++; j--; }
        if (j < i) slashes += this.pendingSlashes;
        if ((slashes & 1) === 0) break;
        q++;
      }
      if (q < 0) {
        const rest = Buffer.from(buf.subarray(i, end));
        let slashes = 0, j = end - 1;
        while (j >= i && buf[j] === BS) { slashes++; j--; }
        this.pendingSlashes = j < i ? this.pendingSlashes + slashes : slashes;
        this.pending.push(rest);
        return end;
      }
      let text: string;
      if (this.pending.length) {
        this.pending.push(buf.subarray(i, q));
        text = Buffer.concat(this.pending).toString('utf8');
        this.pending = [];
      } else text = buf.toString('utf8', i, q);
      this.strings.push(text.includes('\\') ? JSON.parse(`"${text}"`) as string : text);
      this.inString = false;
      i = q + 1;
    }
    return i;
  }

  private startCapture(): void {
    this.capture = [];
    this.depth = 0;
    this.capInString = false;
    this.capEscape = false;
    this.state = S.Capture;
  }

  // Copies one JSON value (object, array or scalar) until it ends, then JSON.parse's it.
  private captureChunk(buf: Buffer, i: number, end: number): number {
    const start = i;
    let depth = this.depth, inStr = this.capInString, esc = this.capEscape, done = false;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (inStr) {
        if (esc) esc = false;
        else if (c === BS) esc = true;
        else if (c === Q) inStr = false;
        continue;
      }
      if (c === Q) inStr = true;
      else if (c === LBRACE || c === LBRACK) depth++;
      else if (c === RBRACE || c === RBRACK) {
        if (depth === 0) { done = true; break; } // a scalar ended by the enclosing brace
        if (--depth === 0) { i++; done = true; break; }
      } else if (depth === 0 && c === COMMA) { done = true; break; }
    }
    this.capture.push(Buffer.from(buf.subarray(start, i)));
    this.depth = depth; this.capInString = inStr; this.capEscape = esc;
    if (done) this.finishCapture();
    return i;
  }

  private finishCapture(): void {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(this.capture).toString('utf8'));
    } catch {
      throw this.notSnapshot();
    }
    this.capture = [];
    if (this.key === 'snapshot') {
      const meta = (value as { meta?: SnapshotMeta })?.meta;
      if (!meta || !Array.isArray(meta.node_fields) || !Array.isArray(meta.edge_fields) || !Array.isArray(meta.node_types) || !Array.isArray(meta.edge_types)) throw this.notSnapshot();
      this.meta = meta;
      const v = value as { node_count?: number; edge_count?: number };
      this.nodeCount = v.node_count ?? 0;
      this.edgeCount = v.edge_count ?? 0;
    } else if (this.key === 'trace_tree') {
      this.out.traceTree = value as unknown[];
    } else if (this.key === 'samples') {
      if (!Array.isArray(value)) throw this.notSnapshot();
      this.out.samples = Float64Array.from(value as number[]);
    }
    this.state = S.Key;
  }

  /** Ends the input: the raw snapshot, or SnapshotFormatError when the file was cut short. */
  end(): RawHeapSnapshot {
    if (this.state === S.Capture && this.depth === 0 && !this.capInString && this.capture.length) this.finishCapture();
    if (this.state !== S.Done) {
      if (!this.meta) throw this.notSnapshot();
      throw new SnapshotFormatError(`heap snapshot is truncated (it ends inside "${this.key}" after ${this.bytes} bytes)`);
    }
    const o = this.out;
    if (!o.nodes || !o.edges) throw new SnapshotFormatError('heap snapshot has no "nodes" or "edges" array');
    const F = this.meta!.node_fields.length, EF = this.meta!.edge_fields.length;
    if (o.nodes.length % F !== 0 || o.edges.length % EF !== 0) throw new SnapshotFormatError('heap snapshot arrays do not match their field counts');
    return {
      meta: this.meta!,
      nodes: o.nodes,
      edges: o.edges,
      strings: this.strings,
      traceFunctionInfos: o.traceFunctionInfos ?? new Uint32Array(0),
      traceTree: o.traceTree ?? [],
      samples: o.samples ?? new Float64Array(0),
      locations: o.locations ?? new Uint32Array(0),
    };
  }
}
