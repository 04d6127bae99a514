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

import { SCAN_INPUT_BYTES, wasmScanner, type WasmScanner } from './scan-wasm.js';

const enum S { Top, Key, Colon, Value, Numbers, Strings, Capture, Done }
const Q = 0x22, BS = 0x5c, COMMA = 0x2c, LBRACE = 0x7b, RBRACE = 0x7d, LBRACK = 0x5b, RBRACK = 0x5d, COLON = 0x3a;
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Where the tokenizer of a numeric array is: the array, how much is filled, a number cut by a chunk's end. */
interface NumberState {
  arr: Uint32Array;
  len: number;
  cur: number;
  inNum: boolean;
  /** The number being read began with '-' (locations only). */
  negative: boolean;
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

// `locations` (script, line and column of each closure) may hold negative columns: Node 24's
// V8 writes some (-196 seen under vitest). Only there a '-' is read, and the value kept as 0.
function scanLocations(st: NumberState, buf: Uint8Array, i: number, end: number): boolean {
  for (; i < end; i++) {
    const c = buf[i]!;
    const d = c - 48;
    if (d >>> 0 < 10) { st.cur = st.cur * 10 + d; st.inNum = true; continue; }
    if (c === 0x2d && !st.inNum && !st.negative) { st.negative = true; continue; }
    if (st.inNum) {
      if (st.len === st.arr.length) { const bigger = new Uint32Array(Math.max(1024, st.arr.length * 2)); bigger.set(st.arr); st.arr = bigger; }
      st.arr[st.len++] = st.negative ? 0 : st.cur;
      st.cur = 0; st.inNum = false; st.negative = false;
    } else if (st.negative) return false;
    if (c !== COMMA && c !== 0x0a && c !== 0x20 && c !== 0x0d && c !== 0x09) return false;
  }
  return true;
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
  /** Text of the strings array decoded but not consumed yet (a string cut by a chunk's end). */
  private strCarry = '';
  /** Bytes after a chunk's last ASCII byte: decoded with the next chunk, so no character is split. */
  private strBytes: Buffer | undefined;
  // generic capture of a small JSON value
  private capture: Buffer[] = [];
  private depth = 0;
  private capInString = false;
  private capEscape = false;
  private readonly out: Partial<RawHeapSnapshot> & { [k: string]: unknown } = {};
  /** Bytes consumed so far. */
  bytes = 0;
  private readonly wasm: WasmScanner | undefined;

  /** `wasm: false` keeps the number tokenizer in JavaScript (WebAssembly is used when there). */
  constructor(opts: { wasm?: boolean } = {}) {
    this.wasm = opts.wasm === false ? undefined : wasmScanner();
  }

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
          if (this.key === 'strings') { this.state = S.Strings; this.strCarry = ''; this.strBytes = undefined; break; }
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
    this.num = { arr: new Uint32Array(size), len: 0, cur: 0, inNum: false, negative: false };
    this.state = S.Numbers;
  }

  private numbers(buf: Buffer, i: number, end: number): number {
    const st = this.num!;
    const close = buf.indexOf(RBRACK, i);
    const stop = close < 0 || close > end ? end : close;
    const ok = this.key === 'locations' ? scanLocations(st, buf, i, stop) : this.wasm ? this.scanWasm(this.wasm, buf, i, stop) : this.scanJs(buf, i, stop);
    if (!ok) throw this.notSnapshot();
    if (stop === end) return end;
    if (st.negative && !st.inNum) throw this.notSnapshot();
    if (st.inNum) {
      if (st.len === st.arr.length) { const bigger = new Uint32Array(st.arr.length + 1); bigger.set(st.arr); st.arr = bigger; }
      st.arr[st.len++] = st.negative ? 0 : st.cur;
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

  private scanJs(buf: Buffer, i: number, stop: number): boolean {
    const st = this.num!;
    nArr = st.arr; nLen = st.len; nCur = st.cur; nIn = st.inNum;
    const ok = scanNumbers(buf, i, stop);
    st.arr = nArr; st.len = nLen; st.cur = nCur; st.inNum = nIn;
    nArr = new Uint32Array(0);
    return ok;
  }

  // The same loop in WebAssembly (scan.wat), 1 MiB at a time through its memory.
  private scanWasm(w: WasmScanner, buf: Buffer, i: number, stop: number): boolean {
    const st = this.num!;
    const mem = new Uint8Array(w.memory.buffer);
    const out = new Uint32Array(w.memory.buffer, SCAN_INPUT_BYTES);
    w.cur.value = st.cur; w.inNum.value = st.inNum ? 1 : 0;
    let ok = true;
    while (i < stop) {
      const n = Math.min(SCAN_INPUT_BYTES, stop - i);
      mem.set(buf.subarray(i, i + n), 0);
      const count = w.scan(0, n, SCAN_INPUT_BYTES);
      if (st.len + count > st.arr.length) {
        const bigger = new Uint32Array(Math.max(1024, st.arr.length * 2, st.len + count));
        bigger.set(st.arr.subarray(0, st.len));
        st.arr = bigger;
      }
      st.arr.set(out.subarray(0, count), st.len);
      st.len += count;
      if (w.bad.value !== 0) { ok = false; break; }
      i += n;
    }
    st.cur = w.cur.value >>> 0; st.inNum = w.inNum.value === 1;
    return ok;
  }

  // The strings array: each chunk is decoded to one JS string (up to its last ASCII byte, so
  // no multi-byte character is split) and cut at the quotes with String indexOf: two
  // native calls per chunk, not per string. A string cut by the chunk's end is carried over.
  private stringsChunk(buf: Buffer, i: number, end: number): number {
    let cut = end;
    while (cut > i && buf[cut - 1]! >= 0x80) cut--;
    let head = 0;
    let text: string;
    if (this.strBytes) {
      head = this.strBytes.length;
      text = this.strCarry + Buffer.concat([this.strBytes, buf.subarray(i, cut)]).toString('utf8');
      this.strBytes = undefined;
    } else text = this.strCarry + buf.toString('utf8', i, cut);
    const carried = this.strCarry.length;
    const len = text.length;
    let p = 0;
    for (;;) {
      // Between strings: separators, then a quote or the closing bracket.
      let c = 0;
      while (p < len && ((c = text.charCodeAt(p)) === COMMA || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) p++;
      if (p >= len) break;
      if (c === RBRACK) {
        // Back to bytes: what of this chunk the text up to the bracket took.
        const used = Buffer.byteLength(text.slice(carried, p + 1), 'utf8') - head;
        this.strCarry = '';
        this.state = S.Key;
        return i + used;
      }
      if (c !== Q) throw this.notSnapshot();
      const start = p + 1;
      let q = start;
      for (;;) {
        q = text.indexOf('"', q);
        if (q < 0) break;
        let j = q - 1;
        while (text.charCodeAt(j) === BS) j--;
        if (((q - 1 - j) & 1) === 0) break; // not escaped
        q++;
      }
      if (q < 0) break; // cut by the chunk's end: carried over from its opening quote
      const raw = text.slice(start, q);
      this.strings.push(raw.includes('\\') ? JSON.parse(`"${raw}"`) as string : raw);
      p = q + 1;
    }
    this.strCarry = p >= len ? '' : text.slice(p);
    if (cut < end) this.strBytes = Buffer.from(buf.subarray(cut, end));
    return end;
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
