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
  traceFunctionInfos: Float64Array;
  /** V8's allocation trace tree (nested arrays), empty without allocation tracking. */
  traceTree: unknown[];
  samples: Float64Array;
  locations: Float64Array;
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
const Q = 0x22, BS = 0x5c, COMMA = 0x2c, LBRACE = 0x7b, RBRACE = 0x7d, LBRACK = 0x5b, RBRACK = 0x5d, COLON = 0x3a, MINUS = 0x2d;
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** A growable typed array of numbers. */
class NumberSink<T extends Uint32Array | Float64Array> {
  len = 0;
  constructor(public arr: T, private readonly make: (n: number) => T) {}
  grow(): void {
    const bigger = this.make(Math.max(1024, this.arr.length * 2));
    bigger.set(this.arr);
    this.arr = bigger;
  }
  result(): T {
    return (this.len === this.arr.length ? this.arr : this.arr.subarray(0, this.len)) as T;
  }
}

const NUMERIC_KEYS = new Set(['nodes', 'edges', 'trace_function_infos', 'samples', 'locations']);

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
  // numbers
  private sink: NumberSink<Uint32Array> | NumberSink<Float64Array> | undefined;
  private cur = 0;
  private inNum = false;
  private neg = false;
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
    if (this.key === 'nodes') this.sink = new NumberSink(new Uint32Array(this.nodeCount * F), (n) => new Uint32Array(n));
    else if (this.key === 'edges') this.sink = new NumberSink(new Uint32Array(this.edgeCount * EF), (n) => new Uint32Array(n));
    else this.sink = new NumberSink(new Float64Array(1024), (n) => new Float64Array(n));
    this.cur = 0; this.inNum = false; this.neg = false;
    this.state = S.Numbers;
  }

  // The hot loop: digits straight into the typed array.
  private numbers(buf: Buffer, i: number, end: number): number {
    const sink = this.sink!;
    let arr = sink.arr, len = sink.len, cur = this.cur, inNum = this.inNum;
    for (; i < end; i++) {
      const c = buf[i]!;
      const d = c - 48;
      if (d >= 0 && d <= 9) { cur = cur * 10 + d; inNum = true; continue; }
      if (inNum) {
        if (len === arr.length) { sink.len = len; sink.grow(); arr = sink.arr; }
        arr[len++] = this.neg ? -cur : cur;
        cur = 0; inNum = false; this.neg = false;
      }
      if (c === COMMA || isSpace(c)) continue;
      if (c === RBRACK) {
        sink.len = len;
        this.finishNumbers();
        return i + 1;
      }
      if (c === MINUS) { this.neg = true; continue; }
      sink.len = len;
      throw this.notSnapshot();
    }
    sink.len = len; this.cur = cur; this.inNum = inNum;
    return i;
  }

  private finishNumbers(): void {
    const sink = this.sink!;
    const k = this.key;
    if (k === 'nodes') this.out.nodes = sink.result() as Uint32Array;
    else if (k === 'edges') this.out.edges = sink.result() as Uint32Array;
    else if (k === 'trace_function_infos') this.out.traceFunctionInfos = sink.result() as Float64Array;
    else if (k === 'samples') this.out.samples = sink.result() as Float64Array;
    else if (k === 'locations') this.out.locations = sink.result() as Float64Array;
    this.sink = undefined;
    this.state = S.Key;
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
      traceFunctionInfos: o.traceFunctionInfos ?? new Float64Array(0),
      traceTree: o.traceTree ?? [],
      samples: o.samples ?? new Float64Array(0),
      locations: o.locations ?? new Float64Array(0),
    };
  }
}
