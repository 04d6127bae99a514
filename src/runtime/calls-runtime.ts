// What instrumented code calls. Loaded into the traced program: imports only node: and runtime/ (and core/memory's page size).
// The fast path lives in the probes themselves (`$mtF[0]&&…`); everything here runs only
// when the RSS publisher said memory moved (or on every probe with trigger 0).
import { fs } from '../core/node-fs.js';
import { relative, isAbsolute } from 'node:path';
import { createRequire } from 'node:module';
import { PAGE_SIZE } from '../core/memory.js';
import { runtimeAddon, v8HeapReader } from './addon.js';
import { RSS_SLOT, startNativeRssPublisher, startRssPublisher, type RssPublisher } from './rss-publisher.js';
import { anchoredClock } from './marks.js';
const { closeSync, openSync, readSync } = fs;

/** One event of a calls trace (sizes in bytes, `t` in ms since the trace started). */
export interface CallEvent {
  t: number;
  /**
   * call, return, throw, or line (with `lines`); `end`: RSS moved by the trigger after the last
   * event and before the trace ended (no function: fn, file, line and col are absent).
   */
  ev: 'call' | 'return' | 'throw' | 'line' | 'end';
  /** Frames of instrumented functions on the stack at the event (1 = outermost). */
  depth: number;
  /** Function name, `Class.method` for methods; for a native call the callee as the source names it. Absent on line events. */
  fn?: string;
  /** True for a call into code that is not instrumented (`--native`): file:line:col is the call site. */
  native?: boolean;
  /** Source file (relative to the working directory when under it), line and column (1-based). */
  file?: string;
  line?: number;
  col?: number;
  rss: number;
  /** RSS change since the previous event written. */
  drss: number;
  /** V8 heap used. */
  heap: number;
}

/** Where a trace sends what the probes find. */
export interface CallsSink {
  /** Bytes that count as a move (0: every event). */
  trigger: number;
  /** Writes one event or mark record. */
  write(record: Record<string, unknown>): void;
  /** Epoch ms the trace started (times are relative to it). */
  start: number;
  /** RSS (bytes) at the previous written event. */
  lastRss: number;
  /**
   * Whether a move since the last event, found when the trace ends, gets an `end` event
   * (default: yes).
   */
  endEvent?: () => boolean;
}

type Table = { file: string; fns: Array<[string, number, number, string | 0]>; lines: Array<[number, number, string | 0]>; calls?: Array<[string, number, number, string | 0]> };
type Site = { getFileName(): string | null; getEnclosingLineNumber?(): number | null; getEnclosingColumnNumber?(): number | null };
interface Open { T: () => Table; k: number; depth: number }
interface NativeSite { T: () => Table; k: number; depth: number; rss: number }

/**
 * The runtime's state, once per realm: the probes, the publisher thread, the trace stack. A
 * realm can load this module more than once (the `--require` preload's one-file bundle, then an
 * instrumented ES module's import or the library's API), and all of them must feed the same
 * traces and start one publisher: the first makes it, the others find it on the probes' object.
 */
function createRuntime() {

  // The publisher thread: the addon's plain thread where it is built, else a Worker (started later).
  const nativePublisher = process.env.MEMTRACE_CALLS_PUBLISHER === 'worker' ? undefined : startNativeRssPublisher(1);

  // Every time of a trace is read from this clock, whichever copy of the runtime's modules asks.
  const now = anchoredClock(runtimeAddon()?.epochAtMonotonicZero?.());

  /** The array the probes read (RSS_SLOT layout), written by the publisher thread. */
  const F = nativePublisher?.view ?? new Int32Array(new SharedArrayBuffer(16 * 4));

  const tables = new WeakMap<() => Table, Table>();
  /** Instrumented files, as the stack API names them (a path for CommonJS, a URL for ESM). */
  const files = new Set<string>();
  const asSites = (_e: unknown, sites: Site[]) => sites;

  /** Set by {@link stackDepth}: whether the innermost instrumented frame was called from an instrumented frame. */
  let calledFromInstrumented = false;

  /** Counts frames of instrumented functions on the stack (module bodies excluded): paid only per event written. */
  function stackDepth(): number {
    const prepare = Error.prepareStackTrace, limit = Error.stackTraceLimit;
    const holder: { stack?: Site[] } = {};
    try {
      Error.prepareStackTrace = asSites as never;
      Error.stackTraceLimit = 10000;
      Error.captureStackTrace(holder, stackDepth);
      const sites = holder.stack as unknown as Site[];
      let d = 0, first = -1;
      for (let i = 0; i < sites.length; i++) {
        const cs = sites[i]!;
        const f = cs.getFileName();
        if (f === null || !files.has(f)) continue;
        if (first < 0) first = i;
        if (cs.getEnclosingLineNumber?.() === 1 && cs.getEnclosingColumnNumber?.() === 1) continue;
        d++;
      }
      const caller = first >= 0 ? sites[first + 1]?.getFileName() : null;
      calledFromInstrumented = caller != null && files.has(caller);
      return d;
    } catch {
      return 0;
    } finally {
      Error.prepareStackTrace = prepare;
      Error.stackTraceLimit = limit;
    }
  }
  const stack: CallsSink[] = [];
  let publisher: RssPublisher | undefined;
  let statmFd = -1;
  const statmBuf = Buffer.alloc(128);
  const cwd = process.cwd();
  const shown = new Map<string, string>();

  function showFile(file: string): string {
    let s = shown.get(file);
    if (s === undefined) {
      const rel = isAbsolute(file) ? relative(cwd, file) : file;
      s = rel && !rel.startsWith('..') ? rel : file;
      shown.set(file, s);
    }
    return s;
  }

  function readPages(): number {
    if (statmFd < 0) statmFd = openSync('/proc/self/statm', 'r');
    const n = readSync(statmFd, statmBuf, 0, 128, 0);
    let i = 0;
    while (i < n && statmBuf[i] !== 32) i++;
    i++;
    let p = 0;
    while (i < n && statmBuf[i]! >= 48 && statmBuf[i]! <= 57) { p = p * 10 + statmBuf[i]! - 48; i++; }
    return p;
  }

  function table(T: () => Table): Table {
    let t = tables.get(T);
    if (!t) { t = T(); tables.set(T, t); }
    return t;
  }

  /**
   * Plain (not async, not generator) functions have no try: their probes are an entry and one
   * at each return. With trigger 0 every probe reaches the runtime, which keeps the frames entered
   * and not returned from, with their depth; a frame no longer on the stack at a later event (or
   * when the trace ends) left by an exception, and gets its `throw` event then.
   */
  let open: Open[] = [];

  /** Writes a `throw` for each open plain frame deeper than `depth` (or as deep, for a call). */
  function unwind(sink: CallsSink, depth: number, inclusive: boolean, rss: number): void {
    while (open.length > 0) {
      const top = open[open.length - 1]!;
      if (top.depth < depth || (top.depth === depth && !inclusive)) break;
      open.pop();
      write(sink, 'throw', top.T, top.k, shownDepth(top.depth), rss);
    }
  }

  /**
   * Native calls (`--native`): a call site's probes run after its arguments and after the call,
   * and cannot see the callee; a call into instrumented code looks the same from there. So a site
   * probe that finds memory moved only notes the site (`pending`) and keeps the flag raised: the
   * next probe decides. An instrumented function entered next and called straight from
   * instrumented code was the callee: the site is not native, and the memory goes on that
   * function's call event. Anything else (the site's own return probe, a callback entered from the
   * native code, a probe back in the caller after a throw) makes it a native call, whose call event
   * carries the RSS noted at the site.
   */
  let pending: NativeSite | undefined;
  /** Native calls whose call event is written and whose return is not yet seen (callbacks ran inside). */
  let nativeOpen: NativeSite[] = [];
  /** Sites found calling instrumented code: their return probe writes nothing. */
  let directSites: NativeSite[] = [];

  /** The depth shown for a frame `depth` instrumented frames deep: native calls open below it count too. */
  function shownDepth(depth: number): number {
    let d = depth;
    for (const o of nativeOpen) if (o.depth < depth) d++;
    return d;
  }

  /** Forgets sites of frames `depth` deep or deeper: those calls are over. With trigger 0 an open native call that was not seen returning threw. */
  function pruneSites(sink: CallsSink, depth: number, rss: number): void {
    while (directSites.length > 0 && directSites[directSites.length - 1]!.depth >= depth) directSites.pop();
    while (nativeOpen.length > 0 && nativeOpen[nativeOpen.length - 1]!.depth >= depth) {
      const o = nativeOpen.pop()!;
      if (sink.trigger === 0) write(sink, 'throw', o.T, o.k, shownDepth(o.depth) + 1, rss, true);
    }
  }

  /** Decides the pending site at a probe of instrumented code (`kind` at `depth`). */
  function settlePending(sink: CallsSink, kind: CallEvent['ev'], depth: number): void {
    const p = pending!;
    pending = undefined;
    pruneSites(sink, p.depth + 1, p.rss);
    if (kind === 'call' && depth === p.depth + 1 && calledFromInstrumented) {
      directSites.push(p);
      return;
    }
    write(sink, 'call', p.T, p.k, shownDepth(p.depth) + 1, p.rss, true);
    if (depth > p.depth) nativeOpen.push(p);
    else write(sink, 'throw', p.T, p.k, shownDepth(p.depth) + 1, currentRss(), true);
  }

  /** Resident pages now, or -1 when they did not move past the trigger since the last event (the flag is cleared then). */
  function movedPages(sink: CallsSink): number {
    const pages = readPages();
    if (sink.trigger > 0) {
      if (F[RSS_SLOT.READY] === 1) F[RSS_SLOT.MOVED] = 0;
      const drss = pages * PAGE_SIZE - sink.lastRss;
      if (drss < sink.trigger && drss > -sink.trigger) return -1;
    }
    return pages;
  }

  /** A site's probe before the call, with memory moved (or trigger 0). */
  function nativeCall(T: () => Table, k: number): void {
    const sink = stack[stack.length - 1];
    if (!sink) { F[RSS_SLOT.MOVED] = 0; return; }
    if (pending) settlePending(sink, 'line', pending.depth);
    const pages = movedPages(sink);
    if (pages < 0) return;
    const rss = pages * PAGE_SIZE;
    const depth = stackDepth();
    pruneSites(sink, depth + 1, rss);
    if (sink.trigger === 0) unwind(sink, depth + 1, true, rss);
    pending = { T, k, depth, rss };
    F[RSS_SLOT.MOVED] = 1;
  }

  /** A site's probe after the call returned, with memory moved (or trigger 0). */
  function nativeReturn(T: () => Table, k: number): void {
    const sink = stack[stack.length - 1];
    if (!sink) { F[RSS_SLOT.MOVED] = 0; return; }
    const pages = readPages();
    const rss = pages * PAGE_SIZE;
    const p = pending;
    if (p && p.T === T && p.k === k) {
      pending = undefined;
      write(sink, 'call', T, k, shownDepth(p.depth) + 1, p.rss, true);
      write(sink, 'return', T, k, shownDepth(p.depth) + 1, rss, true);
    } else {
      if (p) settlePending(sink, 'line', p.depth);
      const top = nativeOpen[nativeOpen.length - 1], direct = directSites[directSites.length - 1];
      if (direct && direct.T === T && direct.k === k) {
        // The callee was instrumented: what moved since its last event goes to the next event.
        directSites.pop();
        return;
      }
      const drss = rss - sink.lastRss;
      if (sink.trigger > 0 && drss < sink.trigger && drss > -sink.trigger) {
        if (F[RSS_SLOT.READY] === 1) F[RSS_SLOT.MOVED] = 0;
        return;
      }
      if (top && top.T === T && top.k === k) {
        nativeOpen.pop();
        write(sink, 'return', T, k, shownDepth(top.depth) + 1, rss, true);
      } else {
        // Memory moved during a call whose start found nothing: the call event has the RSS of the last event.
        const depth = stackDepth();
        pruneSites(sink, depth + 1, rss);
        write(sink, 'call', T, k, shownDepth(depth) + 1, sink.lastRss, true);
        write(sink, 'return', T, k, shownDepth(depth) + 1, rss, true);
      }
    }
    F[RSS_SLOT.REFERENCE] = pages;
    if (sink.trigger > 0 && F[RSS_SLOT.READY] === 1) F[RSS_SLOT.MOVED] = 0;
  }

  function write(sink: CallsSink, kind: CallEvent['ev'], T: () => Table, k: number, depth: number, rss: number, native = false): void {
    const drss = rss - sink.lastRss;
    sink.lastRss = rss;
    const tb = table(T);
    let rec: CallEvent;
    if (native) {
      const c = tb.calls![k]!;
      rec = { t: 0, ev: kind, depth, fn: c[0], native: true, file: showFile(c[3] || tb.file), line: c[1], col: c[2], rss, drss, heap: 0 };
    } else if (kind === 'line') {
      const l = tb.lines[k]!;
      rec = { t: 0, ev: kind, depth, file: showFile(l[2] || tb.file), line: l[0], col: l[1], rss, drss, heap: 0 };
    } else {
      const f = tb.fns[k]!;
      rec = { t: 0, ev: kind, depth, fn: f[0], file: showFile(f[3] || tb.file), line: f[1], col: f[2], rss, drss, heap: 0 };
    }
    rec.heap = heapUsed();
    rec.t = Math.round((now() - sink.start) * 1000) / 1000;
    sink.write(rec as unknown as Record<string, unknown>);
  }

  /**
   * V8's heap in use: the runtime addon's read (~1 µs) where it is built and agrees with
   * process.memoryUsage(). Else: node:v8's getHeapStatistics (0.44 µs) costs a program ~0.4 MiB
   * of RSS for its module (more with the stream stack it loads); process.memoryUsage() reads the
   * same figure in ~10 µs (it reads the RSS from /proc as well), ~60 µs while the heap grows
   * (events come then: measured in yaml's run). So without the addon the first events, all of
   * most runs' (the bench's workloads write 140-300), take memoryUsage; past HEAP_BY_V8_AFTER
   * events a run is event-heavy and node:v8 pays for itself.
   */
  const HEAP_BY_V8_AFTER = 2000;
  const memoryUsage = process.memoryUsage; // as it was at load: the program may replace it
  let heapReads = 0;
  let heapStatistics: (() => { used_heap_size: number }) | undefined;
  let addonHeap: (() => [number, number] | null) | null | undefined;
  function heapUsed(): number {
    if (addonHeap === undefined) addonHeap = v8HeapReader();
    if (addonHeap) { const h = addonHeap(); if (h) return h[0]; }
    if (heapStatistics) return heapStatistics().used_heap_size;
    if (++heapReads > HEAP_BY_V8_AFTER) heapStatistics = (createRequire(import.meta.url)('node:v8') as typeof import('node:v8')).getHeapStatistics;
    return memoryUsage().heapUsed;
  }

  /** `plain`: 1 at a plain function's entry, 2 at its return, 0 otherwise. */
  function event(kind: CallEvent['ev'], T: () => Table, k: number, plain: number): void {
    const sink = stack[stack.length - 1];
    if (!sink) { F[RSS_SLOT.MOVED] = 0; return; }
    let depth = -1;
    if (pending) { depth = stackDepth(); settlePending(sink, kind, depth); }
    const pages = movedPages(sink);
    if (pages < 0) return;
    const rss = pages * PAGE_SIZE;
    F[RSS_SLOT.REFERENCE] = pages;
    if (depth < 0) depth = stackDepth();
    if (nativeOpen.length > 0 || directSites.length > 0) pruneSites(sink, kind === 'call' ? depth : depth + 1, rss);
    if (sink.trigger === 0) {
      unwind(sink, depth, kind === 'call', rss);
      if (plain === 1) open.push({ T, k, depth });
      else if (plain === 2) {
        const top = open[open.length - 1];
        if (top && top.T === T && top.k === k && top.depth === depth) open.pop();
      }
    }
    write(sink, kind, T, k, shownDepth(depth), rss);
  }

  /** The probes' slow paths, reached only when the publisher raised the flag. */
  const R = {
    F,
    /** Call probe. */
    c(T: () => Table, k: number): void { event('call', T, k, 0); },
    /** Exit probe: `ok` 1 for a return, 0 for a throw. */
    r(T: () => Table, k: number, ok: number): void { event(ok ? 'return' : 'throw', T, k, 0); },
    /** Call probe of a plain function (no try: its throws are inferred). */
    e(T: () => Table, k: number): void { event('call', T, k, 1); },
    /** Return probe of a plain function. */
    x(T: () => Table, k: number): void { event('return', T, k, 2); },
    /** Line probe. */
    l(T: () => Table, k: number): void { event('line', T, k, 0); },
    /** Native-call probe before the call, passing the last argument through. */
    a<V>(v: V, T: () => Table, k: number): V { if (F[RSS_SLOT.MOVED]) nativeCall(T, k); return v; },
    /** Native-call probe before a call without arguments. */
    n(T: () => Table, k: number): void { nativeCall(T, k); },
    /** Native-call probe after a call without arguments (`n` ran before it), passing its value through. */
    z<V>(_before: unknown, v: V, T: () => Table, k: number): V { if (F[RSS_SLOT.MOVED]) nativeReturn(T, k); return v; },
    /** Native-call probe after the call, passing its value through. */
    p<V>(v: V, T: () => Table, k: number): V { if (F[RSS_SLOT.MOVED]) nativeReturn(T, k); return v; },
    /** Names an instrumented file (run by its first statement). */
    m(file: string): void { files.add(file); },
  };

  /** Current resident set size in bytes (a pread of /proc/self/statm). */
  function currentRss(): number {
    return readPages() * PAGE_SIZE;
  }

  /** True when the RSS publisher is the addon's thread, running from the start (nothing to wait for). */
  function publisherRunning(): boolean {
    return nativePublisher !== undefined && publisher === nativePublisher;
  }

  /** Starts the publisher thread if it is not running (it parks while no trace is on); resolves when it runs. */
  function ensurePublisher(intervalMs = 1): Promise<void> {
    if (!publisher) publisher = nativePublisher ?? startRssPublisher({ intervalMs, view: F });
    return publisher.ready;
  }

  function arm(sink: CallsSink): void {
    const pages = readPages();
    sink.lastRss = pages * PAGE_SIZE;
    F[RSS_SLOT.REFERENCE] = pages;
    open = [];
    pending = undefined;
    nativeOpen = [];
    directSites = [];
    F[RSS_SLOT.THRESHOLD] = sink.trigger === 0 ? 0 : Math.max(1, Math.ceil(sink.trigger / PAGE_SIZE));
    // Until the publisher runs, every probe takes the precise path.
    F[RSS_SLOT.MOVED] = sink.trigger === 0 || F[RSS_SLOT.READY] !== 1 ? 1 : 0;
  }

  /**
   * Makes `sink` the active trace (the innermost): probes write to it until {@link popSink}.
   * The sink that was active gets a `pause` record, and a `resume` record when this one ends.
   */
  function pushSink(sink: CallsSink): void {
    ensurePublisher();
    const outer = stack[stack.length - 1];
    if (outer) outer.write({ t: round(now() - outer.start), pause: 'nested trace started' });
    stack.push(sink);
    arm(sink);
    publisher!.setActive(true);
  }

  /** Ends the innermost trace (which must be `sink`) and resumes the one it paused. */
  function popSink(sink: CallsSink): void {
    const i = stack.lastIndexOf(sink);
    if (i < 0) return;
    // Plain frames still open and no longer on the stack threw (an uncaught exception ends here).
    if (i === stack.length - 1 && open.length > 0 && sink.trigger === 0) unwind(sink, stackDepth(), false, currentRss());
    // A native call the trace ends in (process.exit()) has its call event and no return.
    if (i === stack.length - 1 && pending) { const p = pending; pending = undefined; write(sink, 'call', p.T, p.k, shownDepth(p.depth) + 1, p.rss, true); }
    // A move the publisher (1 ms readings) had not flagged when the last probe ran would be the
    // next event's, and a trace that ends has none: it is the trace's end event.
    if (i === stack.length - 1 && sink.trigger > 0) {
      const rss = currentRss();
      const drss = rss - sink.lastRss;
      if ((drss >= sink.trigger || drss <= -sink.trigger) && (sink.endEvent?.() ?? true)) {
        sink.lastRss = rss;
        sink.write({ t: round(now() - sink.start), ev: 'end', depth: 0, rss, drss, heap: heapUsed() });
      }
    }
    stack.splice(i, 1);
    const outer = stack[stack.length - 1];
    if (outer) {
      outer.write({ t: round(now() - outer.start), resume: 'nested trace ended' });
      arm(outer);
    } else {
      F[RSS_SLOT.MOVED] = 0;
      publisher?.setActive(false);
    }
  }

  /** True while a trace is on. */
  function tracing(): boolean {
    return stack.length > 0;
  }

  function round(ms: number): number {
    return Math.round(ms * 1000) / 1000;
  }

  /** Files in scope that could not be instrumented (they ran without probes), with the reason. */
  const uninstrumented: Array<{ file: string; reason: string }> = [];

  /** Notes a file in scope left as it is (the instrumenter's warning says why). */
  function noteUninstrumented(file: string, reason: string): void {
    uninstrumented.push({ file, reason });
  }

  /** How many instrumented files have run (their first statement named them). */
  function instrumentedFileCount(): number {
    return files.size;
  }

  /** Closes the kept-open statm fd and stops the publisher (at exit). */
  function closeRuntime(): void {
    if (statmFd >= 0) { try { closeSync(statmFd); } catch { /* gone */ } statmFd = -1; }
    publisher?.stop();
  }

  /** The scope calls-install put in place in this realm (every copy of it asks here). */
  let installed: unknown;

  return {
    F, R, now, currentRss, publisherRunning, ensurePublisher, pushSink, popSink, tracing, uninstrumented, noteUninstrumented, instrumentedFileCount, closeRuntime,
    installed: () => installed,
    install: (scope: unknown) => { installed = scope; },
  };
}

type Runtime = ReturnType<typeof createRuntime>;
const RUNTIME = Symbol.for('memtrace.calls.runtime');

/**
 * Runs `source` as a classic script of this realm: through the runtime addon where it is built
 * (node:vm's module costs a program ~0.4 MiB of RSS), else node:vm.
 */
function runInThisContext(source: string): unknown {
  const addon = runtimeAddon();
  if (typeof addon?.runScript === 'function') return addon.runScript(source);
  return (createRequire(import.meta.url)('node:vm') as typeof import('node:vm')).runInThisContext(source);
}

function realmRuntime(): Runtime {
  if (runInThisContext('typeof $mtR') !== 'undefined') {
    const found = (runInThisContext('$mtR') as Record<symbol, Runtime | undefined>)[RUNTIME];
    if (found) return found;
  }
  const rt = createRuntime();
  Object.defineProperty(rt.R, RUNTIME, { value: rt });
  const { F, R } = rt;
  // The probes' two names are script-scope constants (what a top-level `const` of a classic script
  // declares): every script and module of the realm resolves them, TurboFan folds them, and they
  // are not properties of globalThis, so the program's globals are its own. The values cross in a
  // global deleted at once.
  if (runInThisContext('typeof $mtF') === 'undefined') {
    const g = globalThis as unknown as Record<string, unknown>;
    g.$mt$init = [F, R];
    try { runInThisContext('const $mtF = $mt$init[0], $mtR = $mt$init[1];'); } finally { delete g.$mt$init; }
  }
  return rt;
}

const runtime = realmRuntime();

/** The array the probes read (RSS_SLOT layout), written by the publisher thread. */
export const F = runtime.F;
/** The probes' slow paths, reached only when the publisher raised the flag. */
export const R = runtime.R;
/** Files in scope that could not be instrumented (they ran without probes), with the reason. */
export const uninstrumented = runtime.uninstrumented;

/** Epoch ms by the clock of every trace's times (a sink's `start` is read from it). */
export function now(): number { return runtime.now(); }
/** Current resident set size in bytes (a pread of /proc/self/statm). */
export function currentRss(): number { return runtime.currentRss(); }
/** True when the RSS publisher is the addon's thread, running from the start (nothing to wait for). */
export function publisherRunning(): boolean { return runtime.publisherRunning(); }
/** Starts the publisher thread if it is not running (it parks while no trace is on); resolves when it runs. */
export function ensurePublisher(intervalMs = 1): Promise<void> { return runtime.ensurePublisher(intervalMs); }
/**
 * Makes `sink` the active trace (the innermost): probes write to it until {@link popSink}.
 * The sink that was active gets a `pause` record, and a `resume` record when this one ends.
 */
export function pushSink(sink: CallsSink): void { runtime.pushSink(sink); }
/** Ends the innermost trace (which must be `sink`) and resumes the one it paused. */
export function popSink(sink: CallsSink): void { runtime.popSink(sink); }
/** True while a trace is on. */
export function tracing(): boolean { return runtime.tracing(); }
/** Notes a file in scope left as it is (the instrumenter's warning says why). */
export function noteUninstrumented(file: string, reason: string): void { runtime.noteUninstrumented(file, reason); }
/** How many instrumented files have run (their first statement named them). */
export function instrumentedFileCount(): number { return runtime.instrumentedFileCount(); }
/** Closes the kept-open statm fd and stops the publisher (at exit). */
export function closeRuntime(): void { runtime.closeRuntime(); }
/** The scope the instrumentation was installed with in this realm, by any copy of calls-install. */
export function installedScope<S>(): S | undefined { return runtime.installed() as S | undefined; }
/** Records the scope the instrumentation is installed with. */
export function setInstalledScope(scope: unknown): void { runtime.install(scope); }
