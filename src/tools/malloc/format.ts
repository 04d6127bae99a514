// Reads the interposer's binary trace (native/memtrace_malloc.c) and aggregates it.
//
// File: "MTMALLOC" u32 version u32 0, then chunks {u32 type, u32 length, payload}:
//   1 INFO     pid ppid flags 0 u32; run startTicks startMono startReal minSize u64; cmdline; hostname
//              (one per process image: an exec'd image of the same pid appends a new INFO)
//   2 EVENTS   tid nevents u32; baseTicks flushTicks flushMono checksum u64; then events, each
//              op u8, varint Δticks, varint size (not for free), varint zigzag Δaddr,
//              varint old address (realloc), varint stack id (with stacks). Op 15 defines a
//              stack: varint id, varint n, n × varint zigzag Δip.
//   3 MAPS     /proc/self/maps text     4 COUNTS  calls[16] bytes[16] log2-size histogram[64] u64
//   5 END      ticks mono u64           6 SYMBOLS JSON {image: [[ip, name]…]} appended by memtrace
//   7 STOPPED  ticks mono u64, errno u32 (writing failed: the trace stops there)
//   8 MARK     ticks mono u64, label (utf8, URI-encoded): a mark; 'memtrace:main' ends start-up
//   9 AGG      (aggregated mode: no events) ticks mono u64, live bytes, live blocks, peak bytes
//              i64, peak ticks u64, final rows exitTaken checksum u32 (the high half of the EVENTS checksum
//              of the chunk with this field 0; 0 in older traces), live bytes at the sites' peak
//              copy i64; rows {site u32 (stack id × 2 + before main), 0 u32, calls bytes u64,
//              live bytes, live blocks, bytes and blocks at the peak i64}: a later row of a
//              site replaces an earlier one
//  10 SERIES   (aggregated mode) n u32, 0 u32, n × {ticks u64, highest live bytes of the period, live bytes i64}
// Times are TSC ticks (x86-64) mapped to ns by the (ticks, CLOCK_MONOTONIC) pairs in the file.
import { closeSync, existsSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { constants, endianness } from 'node:os';
import { UsageError, fileError } from '../../core/errors.js';
import { LOG_VERSION, type LogHeader } from '../../core/log.js';
import { BlockTable } from './blocks.js';
import { executableFiles, parseMaps, preloadElf, readPerfMap, symbolize } from './symbols.js';
import { readAt } from '../../core/fsutil.js';
import { SourceMaps } from '../../core/sourcemap.js';
import { formatDuration } from '../../core/units.js';

/** The first bytes of a malloc trace. */
export const MAGIC = 'MTMALLOC';
/** Interposer flag bits (MEMTRACE_MALLOC_FLAGS). */
export const FLAGS = { stacks: 1, countOnly: 2, noFollow: 4, mmap: 8, aggregate: 16 } as const;
/** Names of the operations, by op code. */
export const OPS = ['', 'malloc', 'calloc', 'realloc', 'free', 'posix_memalign', 'aligned_alloc', 'memalign', 'valloc', 'pvalloc', 'mmap', 'munmap', 'free(NULL)'];
const OP_REALLOC = 3, OP_FREE = 4, OP_MUNMAP = 11, OP_STACKDEF = 15;
const NOPS = 16, NHIST = 64;
const FINE_BINS = 100_000, CHART_POINTS = 2000;
/** Added to a site key for the events of start-up (above every image × stack id key). */
const STARTUP_KEY = 2 ** 40;
/** The mark memtrace's node preload places when the main module is about to run (src/runtime/malloc-marks.ts). */
export const MAIN_MARK = 'memtrace:main';
/** The mark the preload places when the program begins to exit (before node frees its heap at teardown). */
export const EXIT_MARK = 'memtrace:exit';

/** One process image (a process, or what it exec'd) found in a trace file. */
export interface MallocImage {
  pid: number;
  ppid: number;
  flags: number;
  command: string[];
  hostname: string;
  startReal: number;
  minSize: number;
}

/** Everything a trace file says, aggregated (see {@link readMallocLog}). */
export interface MallocAnalysis {
  header: LogHeader;
  /** Calls and requested bytes per function. */
  functions: Array<{ op: string; calls: number; bytes: number }>;
  /** Requested sizes, by power-of-two bucket [lo, hi]. */
  histogram: Array<{ lo: number; hi: number; count: number }>;
  /** Live bytes over time (ms since start; each point the highest in its slice). */
  timeline: { t: number[]; live: number[] };
  /** Call sites (innermost frame first), with what they allocated and what was still live at exit; `startup` for allocations before the main module ran. */
  sites: Array<{ frames: string[]; calls: number; bytes: number; liveBytes: number; liveCount: number; startup: boolean; peakBytes?: number; peakCount?: number }>;
  /** Marks placed by the program (ms since start), start-up's end among them as 'memtrace:main'. */
  marks: Array<{ t: number; label: string }>;
  warnings: string[];
}

interface Scan {
  images: Array<MallocImage & { startTicks: number; startMono: number; maps?: string; counts?: Buffer; symbols?: Array<[number, string]> }>;
  pairs: Array<[number, number]>;
  events: Array<{ offset: number; length: number; image: number }>;
  /** AGG and SERIES chunks (aggregated mode). */
  aggs: Array<{ offset: number; length: number; image: number; ticks: number }>;
  series: Array<{ offset: number; length: number; image: number }>;
  endTicks: number;
  ended: boolean;
  stopped?: { ticks: number; errno: number };
  marks: Array<{ ticks: number; label: string; image: number }>;
  /** EVENTS chunks (their index in `events`) and marks (-1 - their index in `marks`), in file order. */
  order: number[];
  cutAt?: number;
  hasSymbols: boolean;
  /** Bytes scanned: the whole file once the scan is final. */
  size: number;
  /** Where the next chunk starts. */
  pos: number;
}


const u64 = (b: Buffer, o: number) => Number(b.readBigUInt64LE(o));

/** Chunk lengths the interposer always writes (COUNTS, END, STOPPED); INFO and EVENTS have a minimum. */
const FIXED_LEN: Record<number, number> = { 4: (2 * NOPS + NHIST) * 8, 5: 16, 7: 24 };
const MIN_LEN: Record<number, number> = { 1: 64, 2: 40, 8: 16, 9: 72, 10: 8 };
const AGG_HDR = 72, AGG_ROW = 56, POINT = 24;
/** Bounds a sane trace keeps: block sizes and addresses of a 64-bit process, stack ids of the table. */
const MAX_SIZE = 2 ** 48, MAX_ADDR = 2 ** 57, MAX_STACK_ID = 2 ** 21, MAX_FRAMES = 64;

const LITTLE_ENDIAN = endianness() === 'LE';

/** The interposer's checksum of an EVENTS chunk's events (events_sum in memtrace_malloc.c). */
function eventsSum(b: Buffer, from: number): bigint {
  let a = 1, s = 0, i = from;
  const words = (b.length - from) >>> 2;
  if (LITTLE_ENDIAN && (b.byteOffset + from) % 4 === 0) { // a view: several times faster than readUInt32LE
    const w = new Uint32Array(b.buffer, b.byteOffset + from, words);
    for (let k = 0; k < words; k++) { a = (a + w[k]!) >>> 0; s = (s + a) >>> 0; }
    i = from + words * 4;
  }
  for (; i + 4 <= b.length; i += 4) { a = (a + b.readUInt32LE(i)) >>> 0; s = (s + a) >>> 0; }
  let w = 0;
  for (let k = 0; i + k < b.length; k++) w += b[i + k]! * 2 ** (8 * k);
  a = (a + w) >>> 0; s = (s + a) >>> 0;
  return (BigInt(s) << 32n) | BigInt(a) | (1n << 63n);
}

function corrupt(path: string, what: string, at: number): UsageError {
  return new UsageError(`${path} is corrupt: ${what} (chunk at byte ${at}); it was not written this way by memtrace malloc`);
}

function newScan(): Scan {
  return { images: [], pairs: [], events: [], aggs: [], series: [], marks: [], order: [], endTicks: 0, ended: false, hasSymbols: false, size: 0, pos: 0 };
}

/**
 * Scans the chunks written since the last call. While the program still writes (`final`
 * false), a chunk not yet whole is left for the next call; in the final scan it is where the
 * trace was cut.
 */
function scanMore(fd: number, path: string, s: Scan, final: boolean): void {
  const size = fstatSync(fd).size;
  if (s.pos === 0) {
    if (size < 16 && !final) return;
    const head = readAt(fd, 0, 16);
    if (head.length < 16 || head.toString('latin1', 0, 8) !== MAGIC) throw new UsageError(`${path} is not a memtrace malloc trace`);
    if (head.readUInt32LE(8) !== 1) throw new UsageError(`${path} is a malloc trace of version ${head.readUInt32LE(8)}, this memtrace reads version 1`);
    s.pos = 16;
  }
  let pos = s.pos;
  while (pos < size) {
    const h = readAt(fd, pos, 8);
    if (h.length < 8) { if (final) s.cutAt = pos; break; }
    const type = h.readUInt32LE(0), len = h.readUInt32LE(4);
    if (type === 0 || type > 10) throw corrupt(path, `unknown chunk type ${type}`, pos);
    if (pos + 8 + len > size) { if (final) s.cutAt = pos; break; }
    if ((FIXED_LEN[type] !== undefined && len !== FIXED_LEN[type]) || len < (MIN_LEN[type] ?? 0)) throw corrupt(path, `a chunk of type ${type} has ${len} bytes`, pos);
    const body = pos + 8;
    const img = s.images.length - 1;
    if (type === 1) {
      const b = readAt(fd, body, len);
      const cmdLen = b.readUInt32LE(56);
      if (60 + cmdLen + 4 > len || 64 + cmdLen + b.readUInt32LE(60 + cmdLen) > len) throw corrupt(path, 'the process header overruns its chunk', pos);
      const command = b.toString('utf8', 60, 60 + cmdLen).split('\0').filter((x, i, a) => x !== '' || i < a.length - 1);
      const hostLen = b.readUInt32LE(60 + cmdLen);
      const image = {
        pid: b.readUInt32LE(0), ppid: b.readUInt32LE(4), flags: b.readUInt32LE(8),
        startTicks: u64(b, 24), startMono: u64(b, 32), startReal: u64(b, 40) / 1e6, minSize: u64(b, 48),
        command, hostname: b.toString('utf8', 64 + cmdLen, 64 + cmdLen + hostLen),
      };
      if (image.flags > 31) throw corrupt(path, `unknown flags ${image.flags}`, pos);
      s.images.push(image);
      s.pairs.push([image.startTicks, image.startMono]);
    } else if (img < 0) {
      throw corrupt(path, 'events before the process header', pos);
    } else if (type === 2) {
      const b = readAt(fd, body, 40);
      s.pairs.push([u64(b, 16), u64(b, 24)]);
      s.endTicks = Math.max(s.endTicks, u64(b, 16));
      s.order.push(s.events.length);
      s.events.push({ offset: body, length: len, image: img });
    } else if (type === 3) {
      s.images[img]!.maps = readAt(fd, body, len).toString('utf8');
    } else if (type === 4) {
      s.images[img]!.counts = readAt(fd, body, len);
    } else if (type === 5) {
      const b = readAt(fd, body, 16);
      s.pairs.push([u64(b, 0), u64(b, 8)]);
      s.endTicks = Math.max(s.endTicks, u64(b, 0));
      s.ended = true;
    } else if (type === 6) {
      let all: Record<string, Array<[number, string]>>;
      try { all = JSON.parse(readAt(fd, body, len).toString('utf8')); } catch { throw corrupt(path, 'the frame names are not JSON', pos); }
      for (const [i, list] of Object.entries(all)) if (s.images[Number(i)]) s.images[Number(i)]!.symbols = list;
      s.hasSymbols = true;
    } else if (type === 8) {
      const b = readAt(fd, body, len);
      let label: string;
      try { label = decodeURIComponent(b.toString('utf8', 16)); } catch { label = b.toString('utf8', 16); }
      s.order.push(-1 - s.marks.length);
      s.marks.push({ ticks: u64(b, 0), label, image: img });
      s.pairs.push([u64(b, 0), u64(b, 8)]);
    } else if (type === 9) {
      const b = readAt(fd, body, 16);
      s.pairs.push([u64(b, 0), u64(b, 8)]);
      s.endTicks = Math.max(s.endTicks, u64(b, 0));
      s.aggs.push({ offset: body, length: len, image: img, ticks: u64(b, 0) });
    } else if (type === 10) {
      s.series.push({ offset: body, length: len, image: img });
    } else if (type === 7) {
      const b = readAt(fd, body, 24);
      s.stopped = { ticks: u64(b, 0), errno: b.readUInt32LE(16) };
      s.pairs.push([u64(b, 0), u64(b, 8)]);
    }
    pos = body + len;
    s.pos = pos;
  }
  s.size = final ? size : pos;
}

/** What a trace holds: stacks per event, events, or totals only (--count-only). */
export type TraceMode = 'stacks' | 'record' | 'count';

const modeOf = (flags: number): TraceMode => (flags & FLAGS.countOnly ? 'count' : flags & FLAGS.stacks ? 'stacks' : 'record');

/** The mode of a trace from its first process header alone (its events unread); undefined when that header is not there. */
export function traceMode(path: string): TraceMode | undefined {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (err) { throw fileError(err, 'read trace', path); }
  try {
    const b = readAt(fd, 0, 36);
    if (b.length < 36 || b.toString('latin1', 0, 8) !== MAGIC || b.readUInt32LE(16) !== 1) return undefined;
    return modeOf(b.readUInt32LE(32));
  } finally {
    closeSync(fd);
  }
}

/** A time in a trace: a mark's label, or ms since the start. */
export type TracePoint = string | number;

/** The window of "allocated in it and still live at its end", in ms; `label` says it in words; `since`/`until` as asked. */
export interface LiveWindow { fromMs: number; toMs: number; label: string; since?: TracePoint; until?: TracePoint }

/** The window a read asks for: --since/--until as marks or ms; by default up to where node began to exit. */
function windowOf(s: Scan, toMs: (ticks: number) => number, durationMs: number, options: ReadOptions, path: string): LiveWindow & { fromTicks?: number; toTicks?: number } {
  const marks = s.marks.filter((m) => m.label !== MAIN_MARK && m.label !== EXIT_MARK);
  // a mark's own reading of the clock, where the window ends at one (the exact tick, not a round trip through ms)
  const ticksAt = new Map<number, number>();
  const at = (p: TracePoint, what: string, after = -Infinity): number => {
    if (typeof p === 'number') return p;
    const named = marks.map((k) => ({ ...k, ms: toMs(k.ticks) })).filter((k) => k.label === p);
    const m = named.find((k) => k.ms >= after);
    if (!m && named.length) throw new UsageError(`${what}: mark '${p}' is before --since in ${path}`);
    if (!m) {
      const known = [...new Set(marks.map((k) => k.label))];
      throw new UsageError(`${what}: no mark '${p}' in ${path}${known.length ? ` (its marks: ${known.slice(0, 10).join(', ')})` : ` (it has no marks${s.marks.length ? '' : ': marks are recorded with --stacks, --since or --until'}; give a time, e.g. 2s)`}`);
    }
    ticksAt.set(m.ms, m.ticks);
    return m.ms;
  };
  const fromMs = options.since !== undefined ? at(options.since, '--since') : 0;
  if (fromMs > durationMs) throw new UsageError(`--since: ${formatDuration(fromMs)} is after the end of ${path} (${formatDuration(durationMs)})`);
  const exit = s.marks.find((m) => m.label === EXIT_MARK && m.image === 0);
  const toMs_ = options.until !== undefined ? at(options.until, '--until', fromMs) : exit ? toMs(exit.ticks) : Infinity;
  if (toMs_ < fromMs) throw new UsageError(`--until is before --since in ${path}`);
  const name = (p: TracePoint | undefined, ms: number) => (typeof p === 'string' ? `mark '${p}'` : `${ms.toFixed(1)} ms`);
  const label = options.since === undefined && options.until === undefined
    ? (exit ? 'when the program began to exit' : 'at exit')
    : `allocated from ${options.since !== undefined ? name(options.since, fromMs) : 'the start'} to ${options.until !== undefined ? name(options.until, toMs_) : exit ? 'the exit' : 'the end'}, still live then`;
  return {
    fromMs, toMs: toMs_, label, since: options.since, until: options.until,
    fromTicks: typeof options.since === 'string' ? ticksAt.get(fromMs) : undefined,
    toTicks: typeof options.until === 'string' ? ticksAt.get(toMs_) : options.until === undefined && exit ? exit.ticks : undefined,
  };
}

/** Options of {@link readMallocLog}. */
export interface ReadOptions {
  /** Live columns count blocks allocated from here (a mark's label, or ms since the start)… */
  since?: TracePoint;
  /** …and still live here (default: where a node program began to exit, else the end). */
  until?: TracePoint;
  /** Append the resolved frame names to the file (so a later report needs no perf map). */
  saveSymbols?: boolean;
  /** Directory of the perf maps memtrace had node write (a map not found there is read from /tmp). */
  perfDir?: string;
}

/**
 * Reads and aggregates a malloc trace. Events are not materialised one record per event (a
 * node run makes tens of millions): they are folded as read into per-function counts, a size
 * histogram, per-call-site totals, live blocks by address, and live bytes in 100 000 time
 * slices (each slice keeps its net change and its highest point, so the peak is exact for a
 * single thread and to the slice for events of several threads).
 */
export function readMallocLog(path: string, options: ReadOptions = {}): MallocAnalysis {
  return new MallocTraceReader(path, options).finish();
}

type SiteTotals = { calls: number; bytes: number };

/**
 * What the events of a trace fold into as they are read: the live blocks, totals per call site,
 * live bytes per time slice and what lived at the window's end. Its methods are small and its
 * fields typed, so that the event loop ({@link foldChunk}) inlines them and passes addresses and
 * times unboxed (as closures over analyse's scope they were calls boxing both, 0.4 µs an event).
 */
class Fold {
  readonly live = new BlockTable();
  /** The block that was at an address when another thread's chunk reused it before its free was read. */
  readonly shadow = new BlockTable(1024);
  /**
   * Frees read before their allocation (address → time): another thread's chunk, common since
   * V8 frees ArrayBuffers on its sweeper threads (2.4 M of 8.4 M frees in a node trace).
   */
  readonly pending = new BlockTable(1024);
  readonly sites = new Map<number, SiteTotals>();
  readonly liveBy = new Map<number, { bytes: number; count: number }>();
  /**
   * Live bytes by time slice, in clock ticks from `origin`: each slice's net change and highest
   * point above its start. The slices start narrow and double in width (two merged into one)
   * whenever an event falls past the last, so a trace folded while it is written needs no
   * length known in advance.
   */
  net = new Float64Array(FINE_BINS + 1);
  maxPre = new Float64Array(FINE_BINS + 1);
  binTicks = 4096;
  unknownFrees = 0;
  /** The live window, in ticks: allocated from `fromTicks` and still live at `toTicks`. */
  fromTicks = -Infinity;
  toTicks = Infinity;
  // Runs of events share a site (all of them without --stacks): the last one found is kept at hand.
  private lastSite = -1;
  private lastSt: SiteTotals | undefined;

  constructor(private readonly origin: number) {}

  /** The slice of `ticks`, the slices widened until it has one. */
  binOf(ticks: number): number {
    let b = Math.floor((ticks - this.origin) / this.binTicks);
    while (b > FINE_BINS) { this.widen(); b = Math.floor((ticks - this.origin) / this.binTicks); }
    return b < 0 ? 0 : b;
  }

  private widen(): void {
    const net = new Float64Array(FINE_BINS + 1), maxPre = new Float64Array(FINE_BINS + 1);
    for (let k = 0; k <= FINE_BINS; k++) {
      const j = k >> 1;
      if (k & 1) maxPre[j] = Math.max(maxPre[j]!, net[j]! + this.maxPre[k]!);
      else maxPre[j] = this.maxPre[k]!;
      net[j] = net[j]! + this.net[k]!;
    }
    this.net = net;
    this.maxPre = maxPre;
    this.binTicks *= 2;
  }

  /** Live bytes change by `delta` at `ticks`. */
  add(ticks: number, delta: number): void {
    const b = this.binOf(ticks);
    const v = (this.net[b] = this.net[b]! + delta);
    if (v > this.maxPre[b]!) this.maxPre[b] = v;
  }

  /** Whether `ticks` lies in the window whose allocations still live at its end fill the "live" columns. */
  inWin(ticks: number): boolean {
    return ticks >= this.fromTicks && ticks <= this.toTicks;
  }

  /** A block of `site` lived at the window's end. */
  credit(site: number, size: number): void {
    let l = this.liveBy.get(site);
    if (!l) this.liveBy.set(site, (l = { bytes: 0, count: 0 }));
    l.bytes += size;
    l.count++;
  }

  allocate(addr: number, size: number, site: number, t: number): void {
    let st = site === this.lastSite ? this.lastSt : this.sites.get(site);
    if (!st) this.sites.set(site, (st = { calls: 0, bytes: 0 }));
    this.lastSite = site;
    this.lastSt = st;
    st.calls++;
    st.bytes += size;
    if (this.pending.size > 0) {
      const slot = this.pending.find(addr);
      const freedAt = slot >= 0 ? this.pending.timeAt(slot) : -1;
      if (slot >= 0 && freedAt >= t) { // its free was read first (another thread's chunk)
        this.pending.deleteAt(slot);
        this.unknownFrees--;
        this.add(t, size);
        this.add(freedAt, -size);
        if (this.inWin(t) && freedAt > this.toTicks) this.credit(site, size);
        return;
      }
    }
    const prev = this.live.find(addr);
    if (prev >= 0) { // the block before at this address: its free (another thread's) is still to be read
      this.shadow.set(addr, this.live.sizeAt(prev), this.live.siteAt(prev), this.live.timeAt(prev));
    }
    this.live.set(addr, size, site, t);
    this.add(t, size);
  }

  /** A block allocated at `at` ends at `t` (ticks). */
  gone(at: number, site: number, size: number, t: number): void {
    if (this.inWin(at) && t > this.toTicks) this.credit(site, size);
  }

  release(addr: number, t: number): void {
    const live = this.live;
    const slot = live.find(addr);
    if (slot < 0) { this.pending.set(addr, 0, 0, t); this.unknownFrees++; return; }
    const size = live.sizeAt(slot);
    if (this.shadow.size > 0) {
      const old = this.shadow.find(addr);
      if (old >= 0 && live.timeAt(slot) > t) { // frees the earlier block at this address, not the one after
        const oldSize = this.shadow.sizeAt(old);
        if (this.inWin(this.shadow.timeAt(old)) && t > this.toTicks) this.credit(this.shadow.siteAt(old), oldSize);
        this.shadow.deleteAt(old);
        this.add(t, -oldSize);
        return;
      }
    }
    this.gone(live.timeAt(slot), live.siteAt(slot), size, t);
    live.deleteAt(slot);
    this.add(t, -size);
  }

  /** An exec replaced the image: its blocks are forgotten. */
  clearBlocks(): void {
    this.live.clear();
    this.shadow.clear();
    this.pending.clear();
  }
}

/** An image's distinct frame addresses in the order read, and each one's index (keyed by address + 1: 0 is an empty slot). */
interface FrameIps { table: BlockTable; list: number[] }

interface ChunkContext {
  withStacks: boolean;
  imgKey: number;
  /** When the image's main module started (ticks); +Infinity until its mark is read. */
  startupEnd: number;
  /** Each stack's frames, as indices into its image's distinct frame addresses. */
  stackDefs: Map<number, number[]>;
  /** The image's distinct frame addresses, and where each is in the list (keyed by address + 1). */
  frameIps: FrameIps;
  calls: Float64Array;
  bytes: Float64Array;
  hist: Float64Array;
  bad: (what: string) => Error;
}

/** Folds the events of one chunk (`b`, header included) into `f`; its event count and last clock reading. */
function foldChunk(f: Fold, b: Buffer, c: ChunkContext): { decoded: number; ticks: number } {
  const { bad, calls, bytes, hist, withStacks, imgKey, startupEnd } = c;
  let ticks = u64(b, 8);
  // every event of a chunk was timed before the chunk was flushed (slack: TSCs of two cores)
  const lastTicksOk = u64(b, 16) + 2 ** 32;
  const expected = b.readUInt32LE(4);
  let decoded = 0;
  let prevAddr = 0;
  let p = 40;
  const end = b.length;
  const varint = () => {
    let v = 0, mul = 1, ch: number, k = 0;
    do {
      if (p >= end || ++k > 10) throw bad('a number runs past its chunk');
      ch = b[p++]!; v += (ch & 0x7f) * mul; mul *= 128;
    } while (ch & 0x80);
    return v;
  };
  // zigzag: even v is v/2, odd v is -(v+1)/2 (v may pass 2^32: no bit operators)
  const zz = (v: number) => { const half = Math.floor(v / 2); return v === half * 2 ? half : -(half + 1); };
  while (p < end) {
    const op = b[p++]!;
    if (op === OP_STACKDEF) {
      const id = varint(), n = varint();
      if (id >= MAX_STACK_ID || n > MAX_FRAMES) throw bad(`a stack of ${n} frames with id ${id}`);
      // Frames are numbered as they are read (during the run): the names and the sites after
      // the exit look up small indices instead of hashing ~700 000 addresses.
      const frames: number[] = []; // small integers: no backing store (an Int32Array of 60 frames has one)
      const { table, list } = c.frameIps;
      let ip = 0;
      for (let i = 0; i < n; i++) {
        ip += zz(varint());
        const slot = table.find(ip + 1);
        if (slot >= 0) frames.push(table.sizeAt(slot));
        else { frames.push(list.length); table.set(ip + 1, list.length, 0, 0); list.push(ip); }
      }
      c.stackDefs.set(imgKey + id, frames);
      continue;
    }
    if (op === 0 || op > OP_MUNMAP) throw bad(`unknown operation ${op}`);
    ticks += varint();
    const size = op === OP_FREE ? 0 : varint();
    const addr = (prevAddr += zz(varint()));
    const old = op === OP_REALLOC ? varint() : 0;
    const sid = withStacks ? varint() : 0;
    if (size > MAX_SIZE) throw bad(`a block of ${size} bytes`);
    if (addr < 0 || addr >= MAX_ADDR || old >= MAX_ADDR) throw bad(`address ${addr} out of range`);
    if (ticks > lastTicksOk) throw bad('an event timed after its chunk was written');
    if (sid >= MAX_STACK_ID) throw bad(`stack id ${sid}`);
    decoded++;
    const site = imgKey + sid + (ticks < startupEnd ? STARTUP_KEY : 0);
    const cop = op === OP_FREE && addr === 0 ? 12 : op;
    calls[cop]!++;
    bytes[cop]! += size;
    if (op !== OP_FREE && op !== OP_MUNMAP) hist[size === 0 ? 0 : size < 4294967296 ? 32 - Math.clz32(size) : Math.min(63, Math.floor(Math.log2(size)) + 1)]!++;
    if (op === OP_FREE || op === OP_MUNMAP) { if (addr) f.release(addr, ticks); }
    else if (op === OP_REALLOC) {
      if (old) f.release(old, ticks);
      if (addr) f.allocate(addr, size, site, ticks);
    } else if (addr) f.allocate(addr, size, site, ticks);
  }
  if (decoded !== expected) throw bad(`${decoded} events where the chunk says ${expected}`);
  return { decoded, ticks };
}

/** What the AGG and SERIES chunks of an aggregated trace say (the last row of each site wins). */
interface Aggregates { peak: number; peakTicks: number; liveNow: number; countNow: number; points: Array<[number, number, number]>; peakBy: Map<number, { bytes: number; count: number }>; peakCopyBytes: number }

/**
 * Folds an aggregated trace's rows into `f` (calls and bytes per site, the live columns) as the
 * events would have been: a site before the main module ran is start-up only where the image
 * has that mark.
 */
function foldAggregates(fd: number, s: Scan, path: string, f: Fold, mainMs: Map<number, number>): Aggregates {
  const out: Aggregates = { peak: 0, peakTicks: 0, liveNow: 0, countNow: 0, points: [], peakBy: new Map(), peakCopyBytes: 0 };
  const i64 = (b: Buffer, o: number) => Number(b.readBigInt64LE(o));
  const rowsOf = new Map<number, Map<number, Buffer>>();
  const last = new Map<number, { live: number; count: number }>();
  for (const ch of s.aggs) {
    const b = readAt(fd, ch.offset, ch.length);
    const bad = (what: string) => corrupt(path, what, ch.offset - 8);
    const final = b.readUInt32LE(48), rows = b.readUInt32LE(52), exitTaken = b.readUInt32LE(56);
    if (final > 1 || exitTaken > 1 || AGG_HDR + rows * AGG_ROW !== ch.length) throw bad(`an aggregate of ${rows} rows in ${ch.length} bytes`);
    const sum = b.readUInt32LE(60);
    if (sum !== 0) { // 0: written before aggregates had a checksum
      const zeroed = Buffer.from(b);
      zeroed.writeUInt32LE(0, 60);
      if (sum !== Number(eventsSum(zeroed, 0) >> 32n)) throw bad('its counters do not match their checksum');
    }
    const peak = i64(b, 32);
    if (peak < 0 || peak > MAX_SIZE) throw bad(`a peak of ${peak} bytes`);
    if (peak >= out.peak) { out.peak = peak; out.peakTicks = u64(b, 40); }
    out.peakCopyBytes = Math.max(out.peakCopyBytes, i64(b, 64));
    last.set(ch.image, { live: Math.max(0, i64(b, 16)), count: Math.max(0, i64(b, 24)) });
    let rowsHere = rowsOf.get(ch.image);
    if (!rowsHere) rowsOf.set(ch.image, (rowsHere = new Map()));
    for (let k = 0; k < rows; k++) {
      const r = b.subarray(AGG_HDR + k * AGG_ROW, AGG_HDR + (k + 1) * AGG_ROW);
      const site = r.readUInt32LE(0);
      if (site >= MAX_STACK_ID || r.readUInt32LE(4) !== 0 || u64(r, 16) > MAX_SIZE * 2 ** 14) throw bad(`a row of site ${site}`);
      rowsHere.set(site, r);
    }
  }
  for (const [image, rows] of rowsOf) {
    const imgKey = image * 2 ** 21;
    for (const [site, r] of rows) {
      const key = imgKey + Math.floor(site / 2) + (site % 2 === 1 && mainMs.has(image) ? STARTUP_KEY : 0);
      let st = f.sites.get(key);
      if (!st) f.sites.set(key, (st = { calls: 0, bytes: 0 }));
      st.calls += u64(r, 8);
      st.bytes += u64(r, 16);
      const liveBytes = Math.max(0, i64(r, 24)), liveCount = Math.max(0, i64(r, 32));
      if (liveBytes > 0 || liveCount > 0) {
        let l = f.liveBy.get(key);
        if (!l) f.liveBy.set(key, (l = { bytes: 0, count: 0 }));
        l.bytes += liveBytes;
        l.count += liveCount;
      }
      const pb = Math.max(0, i64(r, 40)), pc = Math.max(0, i64(r, 48));
      if (pb > 0 || pc > 0) {
        const p = out.peakBy.get(key);
        if (p) { p.bytes += pb; p.count += pc; } else out.peakBy.set(key, { bytes: pb, count: pc });
      }
    }
  }
  const lastImage = s.images.length - 1;
  const end = last.get(lastImage);
  if (end) { out.liveNow = end.live; out.countNow = end.count; }
  for (const ch of s.series) {
    const b = readAt(fd, ch.offset, ch.length);
    const n = b.readUInt32LE(0);
    if (8 + n * POINT !== ch.length) throw corrupt(path, `a series of ${n} points in ${ch.length} bytes`, ch.offset - 8);
    for (let k = 0; k < n; k++) {
      const o = 8 + k * POINT;
      const hi = i64(b, o + 8), now = i64(b, o + 16);
      if (hi > MAX_SIZE || now > MAX_SIZE) throw corrupt(path, `a series point of ${hi} bytes`, ch.offset - 8);
      out.points.push([u64(b, o), Math.max(0, hi), Math.max(0, now)]);
    }
  }
  return out;
}

/**
 * Reads a malloc trace in file order, as far as it is written: {@link poll} while the program
 * runs folds the events written so far (when no --since/--until window needs the whole trace
 * first), {@link finish} reads the rest and aggregates. Marks are folded where they are in the
 * file: an event after a mark in time is in a chunk flushed after the mark was written, so
 * start-up's end and the exit that closes the default live window are known before any event
 * past them is read.
 */
export class MallocTraceReader {
  private fd = -1;
  private readonly s = newScan();
  private fold?: Fold;
  private folded = 0;
  private currentImage = -1;
  private readonly stackDefs = new Map<number, number[]>();
  private readonly frameIps: FrameIps[] = [];
  private symbolsQueued = 0;
  private chunkBuf = Buffer.alloc(0);
  private readonly elfQueue: string[] = [];
  private readonly evCalls: Float64Array[] = [];
  private readonly evBytes: Float64Array[] = [];
  private readonly evHist: Float64Array[] = [];
  private readonly startupEnd: number[] = [];
  private events = 0;
  private lastTicks = 0;
  private readonly windowed: boolean;

  constructor(private readonly path: string, private readonly options: ReadOptions = {}) {
    this.windowed = options.since !== undefined || options.until !== undefined;
  }

  private open(mustExist: boolean): boolean {
    if (this.fd >= 0) return true;
    try {
      this.fd = openSync(this.path, this.options.saveSymbols ? 'r+' : 'r');
      return true;
    } catch (err) {
      if (mustExist) throw fileError(err, 'read trace', this.path);
      return false;
    }
  }

  /**
   * Folds what the program wrote since the last call (the trace still being written), for at
   * most `budgetMs`; true when it caught up.
   */
  poll(budgetMs = Infinity): boolean {
    if (!this.open(false)) return true;
    scanMore(this.fd, this.path, this.s, false);
    // Date.now, not performance.now: the first read of `performance` loads perf_hooks (~20 ms)
    const deadline = Date.now() + budgetMs;
    if (!this.windowed) this.foldReady(deadline);
    const caughtUp = this.windowed || this.folded === this.s.order.length;
    if (caughtUp) this.preloadSymbols(deadline);
    return caughtUp;
  }

  /**
   * With stacks, the ELF files the program mapped executable are read while it runs (node's
   * own ~150 000 symbols take ~100 ms), so that naming frames after the exit finds them read.
   */
  private preloadSymbols(deadline: number): void {
    const s = this.s;
    for (; this.symbolsQueued < s.images.length; this.symbolsQueued++) {
      const img = s.images[this.symbolsQueued]!;
      if (img.maps === undefined) break; // written right after the image's header
      if (!(img.flags & FLAGS.stacks)) continue;
      for (const file of executableFiles(parseMaps(img.maps))) if (!this.elfQueue.includes(file)) this.elfQueue.push(file);
    }
    while (this.elfQueue.length > 0 && Date.now() < deadline) preloadElf(this.elfQueue.shift()!);
  }

  /** Closes the file without reading on (a trace that turned out not to be this run's). */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Reads the trace to its end and aggregates it; the file is closed after. */
  finish(): MallocAnalysis {
    this.open(true);
    try {
      scanMore(this.fd, this.path, this.s, true);
      return this.analyse();
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Folds the chunks scanned and not folded yet, marks among them, in file order. */
  private foldReady(deadline = Infinity): void {
    const s = this.s;
    if (s.images.length === 0) return;
    const f = this.theFold();
    for (; this.folded < s.order.length; this.folded++) {
      if (deadline !== Infinity && Date.now() > deadline) return;
      const item = s.order[this.folded]!;
      if (item < 0) {
        const m = s.marks[-1 - item]!;
        if (m.label === MAIN_MARK && this.startupEnd[m.image] === undefined) this.startupEnd[m.image] = m.ticks;
        if (!this.windowed && m.label === EXIT_MARK && m.image === 0 && f.toTicks === Infinity) f.toTicks = m.ticks;
        continue;
      }
      this.foldEvents(f, s.events[item]!);
    }
  }

  /** The fold, made once the first process header is read (its clock reading is the slices' origin). */
  private theFold(): Fold {
    if (!this.fold) {
      this.fold = new Fold(this.s.images[0]!.startTicks);
      // the default window: from the start to the exit mark, once it is read
      if (!this.windowed) this.fold.fromTicks = this.s.images[0]!.startTicks;
    }
    return this.fold;
  }

  private foldEvents(f: Fold, ch: Scan['events'][number]): void {
    const s = this.s;
    if (ch.image !== this.currentImage) {
      if (this.currentImage >= 0 && f.live.size > 0) { // an exec replaced the image: its heap is gone
        const at = s.images[ch.image]!.startTicks;
        f.live.forEach((_addr, size, site, time) => { f.gone(time, site, size, at); f.add(at, -size); });
        f.clearBlocks();
      }
      this.currentImage = ch.image;
    }
    const image = s.images[ch.image]!;
    const withStacks = (image.flags & FLAGS.stacks) !== 0;
    // one buffer for every chunk (each ~256 KiB): a fresh one per chunk was garbage to collect
    if (this.chunkBuf.length < ch.length) this.chunkBuf = Buffer.alloc(Math.max(ch.length, 2 * this.chunkBuf.length));
    const got = readSync(this.fd, this.chunkBuf, 0, ch.length, ch.offset);
    const b = this.chunkBuf.subarray(0, got);
    const bad = (what: string) => corrupt(this.path, what, ch.offset - 8);
    if (got < ch.length) throw bad('the chunk is shorter than its header says');
    const sum = b.readBigUInt64LE(32);
    if (sum !== 0n && sum !== eventsSum(b, 40)) throw bad('its events do not match their checksum');
    const i = ch.image;
    const r = foldChunk(f, b, {
      withStacks, imgKey: i * 2 ** 21, startupEnd: this.startupEnd[i] ?? Infinity, stackDefs: this.stackDefs,
      frameIps: (this.frameIps[i] ??= { table: new BlockTable(1024), list: [] }),
      calls: (this.evCalls[i] ??= new Float64Array(NOPS)), bytes: (this.evBytes[i] ??= new Float64Array(NOPS)), hist: (this.evHist[i] ??= new Float64Array(NHIST)), bad,
    });
    this.events += r.decoded;
    this.lastTicks = Math.max(this.lastTicks, r.ticks);
  }

  private analyse(): MallocAnalysis {
    const { s, path, options, fd } = this;
    const warnings: string[] = [];
    if (s.images.length === 0) throw new UsageError(`${path} holds no process: the trace was cut before it started`);
    // ticks → ms since the first image started
    // The (ticks, monotonic ns) pairs come from two clocks that both only go forward, read by
    // several threads (on several cores) a moment apart: a pair out of step with the others by
    // less than a second is dropped; more is not something memtrace malloc writes.
    const pairs: Array<[number, number]> = [];
    for (const pair of s.pairs.slice().sort((a, b) => a[0] - b[0])) {
      const prev = pairs[pairs.length - 1];
      if (prev && pair[1] < prev[1]) {
        if (prev[1] - pair[1] > 1e9) throw new UsageError(`${path} is corrupt: its clock readings go backwards; it was not written this way by memtrace malloc`);
        continue;
      }
      pairs.push(pair);
    }
    const [t0, m0] = pairs[0]!;
    const [t1, m1] = pairs[pairs.length - 1]!;
    const slope = t1 > t0 && m1 > m0 ? (m1 - m0) / (t1 - t0) : 1;
    const mono0 = s.images[0]!.startMono;
    const toMs = (ticks: number) => (m0 + (ticks - t0) * slope - mono0) / 1e6;
    const ticksOf = (ms: number) => t0 + (ms * 1e6 + mono0 - m0) / slope;
    const endTicks = Math.max(s.endTicks, t1);
    const durationMs = Math.max(toMs(endTicks), 0.001);
    // the window whose allocations still live at its end fill the "live" columns: by default all
    // of the run up to where the program began to exit (node: before teardown frees its heap)
    const aggregated = s.images.some((img) => img.flags & FLAGS.aggregate);
    if (aggregated && this.windowed) {
      throw new UsageError(`${options.since !== undefined ? '--since' : '--until'}: ${path} was recorded with --aggregate, it keeps no events (only the live blocks at the exit and at the peak)`);
    }
    const win = windowOf(s, toMs, durationMs, options, path);
    const f = this.theFold();
    if (this.windowed) {
      f.fromTicks = win.fromTicks ?? ticksOf(win.fromMs);
      f.toTicks = win.toTicks ?? (Number.isFinite(win.toMs) ? ticksOf(win.toMs) : Infinity);
    }
    this.foldReady();
    // start-up of each image: its events before the main module ran (the preload's mark)
    const mainMs = new Map<number, number>();
    for (const m of s.marks) if (m.label === MAIN_MARK && !mainMs.has(m.image)) mainMs.set(m.image, toMs(m.ticks));
    const { live, liveBy } = f;
    const stackDefs = this.stackDefs;
    const evCalls = s.images.map((_, i) => this.evCalls[i] ?? new Float64Array(NOPS));
    const evBytes = s.images.map((_, i) => this.evBytes[i] ?? new Float64Array(NOPS));
    const evHist = s.images.map((_, i) => this.evHist[i] ?? new Float64Array(NHIST));
    const events = this.events;
    let lastTicks = this.lastTicks;
    f.binOf(endTicks); // the slices reach the end

    const agg = aggregated ? foldAggregates(fd, s, path, f, mainMs) : undefined;
    if (agg) lastTicks = s.aggs.reduce((t, c) => Math.max(t, c.ticks), lastTicks);

    // per-function totals and histogram: the exact counters an image wrote at exit, else its events
    const fnCalls = new Float64Array(NOPS), fnBytes = new Float64Array(NOPS), hist = new Float64Array(NHIST);
    s.images.forEach((img, i) => {
      const c = img.counts;
      for (let k = 0; k < NOPS; k++) {
        fnCalls[k]! += c ? u64(c, k * 8) : evCalls[i]![k]!;
        fnBytes[k]! += c ? u64(c, (NOPS + k) * 8) : evBytes[i]![k]!;
      }
      for (let k = 0; k < NHIST; k++) hist[k]! += c ? u64(c, (2 * NOPS + k) * 8) : evHist[i]![k]!;
      if (!c && (img.flags & FLAGS.countOnly)) warnings.push(`process ${img.pid} (${img.command.join(' ')}) did not exit normally: counting mode keeps totals only until exit, none were written`);
    });

    // peak and timeline from the time slices (aggregated: the interposer's series and exact peak)
    if (agg) {
      // each point: the highest live bytes of its period and the level at its end, as the slices'
      // net change and highest prefix; the trace's end at the live bytes left then
      const points = agg.points.slice();
      if (s.ended) points.push([endTicks, agg.liveNow, agg.liveNow]);
      points.sort((a, b) => a[0] - b[0]);
      let level = 0, bin = -1, start = 0;
      for (const [ticks, hi, now] of points) {
        const b = f.binOf(ticks);
        if (b !== bin) { bin = b; start = level; }
        f.net[b]! += now - level;
        f.maxPre[b] = Math.max(f.maxPre[b]!, hi - start, now - start);
        level = now;
      }
    }
    let cum = 0, peak = 0, peakBin = 0;
    const lastBin = f.binOf(endTicks);
    const binMs = (k: number) => Math.max(0, toMs(s.images[0]!.startTicks + k * f.binTicks));
    const group = Math.ceil((lastBin + 1) / CHART_POINTS);
    const timeline = { t: [] as number[], live: [] as number[] };
    let groupMax = 0;
    for (let k = 0; k <= lastBin; k++) {
      const top = cum + f.maxPre[k]!;
      if (top > peak) { peak = top; peakBin = k; }
      groupMax = Math.max(groupMax, top, cum + f.net[k]!);
      cum += f.net[k]!;
      if ((k + 1) % group === 0 || k === lastBin) {
        timeline.t.push(Math.round(Math.min(binMs(k), durationMs) * 1000) / 1000);
        timeline.live.push(groupMax);
        groupMax = cum;
      }
    }

    if (agg) { peak = agg.peak; peakBin = f.binOf(agg.peakTicks); }

    // blocks live at exit: live at the window's end when allocated in it
    let liveAtExit = 0;
    live.forEach((_addr, size, site, time) => {
      if (f.inWin(time)) f.credit(site, size);
      liveAtExit += size;
    });

    // names for frames: each image's distinct addresses, named by the symbols saved in the trace or resolved now
    const nameOf: string[][] = [];
    const saved: Record<string, Array<[number, string]>> = {};
    const sourceMaps = new SourceMaps();
    s.images.forEach((img, i) => {
      const list = this.frameIps[i]?.list ?? [];
      let byIp: Map<number, string> | undefined;
      if (img.symbols) byIp = new Map(img.symbols);
      else if (list.length > 0) {
        const own = options.perfDir && `${options.perfDir}/perf-${img.pid}.map`;
        const perf = readPerfMap(own && existsSync(own) ? own : `/tmp/perf-${img.pid}.map`);
        byIp = symbolize(list, parseMaps(img.maps ?? ''), perf, process.cwd(), sourceMaps);
        saved[i] = [...byIp];
      }
      nameOf[i] = list.map((ip) => byIp?.get(ip) ?? `0x${ip.toString(16)}`);
    });
    if (options.saveSymbols && !s.hasSymbols && Object.keys(saved).length > 0 && s.cutAt === undefined) {
      const json = Buffer.from(JSON.stringify(saved));
      const h = Buffer.alloc(8);
      h.writeUInt32LE(6, 0);
      h.writeUInt32LE(json.length, 4);
      try { writeSync(fd, Buffer.concat([h, json]), 0, json.length + 8, s.size); } catch { /* read-only: names are resolved again next time */ }
    }

    // Stacks that read the same (the same path through JIT code that moved) are one site. They are
    // told apart by their frames' name numbers, not by the names joined: ~9 000 stacks of ~60 frames
    // made keys of ~3 KB each to build and hash.
    const nameNo = new Map<string, number>();
    const numbers = nameOf.map((names) => Int32Array.from(names, (n) => {
      let k = nameNo.get(n);
      if (k === undefined) nameNo.set(n, (k = nameNo.size));
      return k;
    }));
    const bySite = new Map<string, MallocAnalysis['sites'][number]>();
    const anyStacks = s.images.some((img) => img.flags & FLAGS.stacks);
    for (const siteKey of new Set([...f.sites.keys(), ...liveBy.keys()])) {
      const key = siteKey >= STARTUP_KEY ? siteKey - STARTUP_KEY : siteKey;
      const img = Math.floor(key / 2 ** 21);
      // events are start-up until their image's main mark is read: an image without one has none
      const startup = siteKey >= STARTUP_KEY && mainMs.has(img);
      const id = key - img * 2 ** 21;
      const ids = stackDefs.get(key);
      const fixed = !anyStacks ? '(all call sites: run with --stacks)' : id === 0 ? '(no stack)' : ids ? undefined : '(stack not in the trace)';
      let label: string;
      if (fixed !== undefined) label = (startup ? 's' : 'm') + fixed;
      else {
        // the name numbers as characters (two for numbers from 2^15): a short flat key
        const nos = numbers[img]!;
        const codes: number[] = [startup ? 1 : 2];
        for (let k = 0; k < ids!.length; k++) {
          const n = nos[ids![k]!]!;
          if (n < 0x8000) codes.push(n);
          else codes.push(0x8000 | (n >> 15), n & 0x7fff);
        }
        label = String.fromCharCode(...codes);
      }
      let e = bySite.get(label);
      if (!e) {
        const frames = fixed !== undefined ? [fixed] : Array.from(ids!, (ix) => nameOf[img]![ix]!);
        bySite.set(label, (e = { frames, calls: 0, bytes: 0, liveBytes: 0, liveCount: 0, startup }));
      }
      const st = f.sites.get(siteKey);
      if (st) { e.calls += st.calls; e.bytes += st.bytes; }
      const l = liveBy.get(siteKey);
      if (l) { e.liveBytes += l.bytes; e.liveCount += l.count; }
      const p = agg?.peakBy.get(siteKey);
      if (agg) { e.peakBytes = (e.peakBytes ?? 0) + (p?.bytes ?? 0); e.peakCount = (e.peakCount ?? 0) + (p?.count ?? 0); }
    }

    // how the trace ends
    let endedBy = 'exit';
    let stoppedAtMs: number | undefined;
    if (s.stopped) {
      endedBy = 'write-error';
      stoppedAtMs = toMs(s.stopped.ticks);
      const name = Object.entries(constants.errno).find(([, v]) => v === s.stopped!.errno)?.[0] ?? `errno ${s.stopped.errno}`;
      const why = name === 'EFBIG' ? 'the file-size limit (ulimit -f) was reached' : `writing it failed (${name})`;
      const rest = s.images.every((img) => img.counts) ? 'the program ran on; the per-function totals cover the whole run, live bytes stop there' : 'the program kept running untraced';
      warnings.push(`the trace stopped at ${stoppedAtMs.toFixed(1)} ms: ${why}; ${rest}`);
    } else if (s.cutAt !== undefined) {
      endedBy = 'cut';
      stoppedAtMs = lastTicks ? toMs(lastTicks) : 0;
      warnings.push(`${path} is cut at byte ${s.cutAt} (the program was killed, or the disk filled): the trace is valid up to ${stoppedAtMs.toFixed(1)} ms`);
    } else if (!s.ended) {
      endedBy = 'no-exit';
      stoppedAtMs = lastTicks ? toMs(lastTicks) : 0;
      warnings.push(`the program ended without exit (killed, _exit or exec): ${agg ? 'what it did after the aggregate was last written' : 'events after its last flush'}, at ${stoppedAtMs.toFixed(1)} ms, ${agg ? 'is' : 'are'} missing`);
    }

    const first = s.images[0]!;
    const main = s.images[s.images.length - 1]!;
    const allocCalls = [1, 2, 3, 5, 6, 7, 8, 9, 10].reduce((a, k) => a + fnCalls[k]!, 0);
    const header: LogHeader = {
      memtrace: LOG_VERSION,
      tool: 'malloc',
      pid: first.pid,
      command: main.command,
      start: new Date(first.startReal).toISOString(),
      hostname: first.hostname,
      node: '',
      mode: modeOf(first.flags),
      minSize: first.minSize,
      images: s.images.map((img) => ({ pid: img.pid, command: img.command })),
      durationMs,
      events,
      allocations: allocCalls,
      frees: fnCalls[OP_FREE]! + fnCalls[OP_MUNMAP]!,
      freeNull: fnCalls[12]!,
      bytesAllocated: [1, 2, 3, 5, 6, 7, 8, 9, 10].reduce((a, k) => a + fnBytes[k]!, 0),
      peakBytes: peak,
      peakMs: Math.round(Math.min(binMs(peakBin), durationMs) * 1000) / 1000,
      liveAtExitBytes: agg ? agg.liveNow : liveAtExit,
      liveAtExitCount: agg ? agg.countNow : live.size,
      ...(agg ? { aggregated: true, peakCopyBytes: agg.peakCopyBytes } : {}),
      unknownFrees: f.unknownFrees,
      endedBy,
      ...(stoppedAtMs !== undefined ? { stoppedAtMs } : {}),
      liveWindow: { fromMs: win.fromMs, toMs: Number.isFinite(win.toMs) ? win.toMs : durationMs, label: win.label, since: win.since, until: win.until },
      ...(mainMs.has(0) ? { startupEndMs: Math.round(mainMs.get(0)! * 1000) / 1000 } : {}),
      file: basename(path),
    };
    const functions = OPS.map((op, k) => ({ op, calls: fnCalls[k]!, bytes: fnBytes[k]! })).filter((f) => f.op && f.calls > 0);
    const histogram: MallocAnalysis['histogram'] = [];
    for (let k = 0; k < NHIST; k++) if (hist[k]! > 0) histogram.push({ lo: k === 0 ? 0 : 2 ** (k - 1), hi: k === 0 ? 0 : 2 ** k - 1, count: hist[k]! });
    const marks = s.marks.map((m) => ({ t: Math.round(toMs(m.ticks) * 1000) / 1000, label: m.label }));
    return { header, functions, histogram, timeline, sites: [...bySite.values()], marks, warnings };
  }
}
