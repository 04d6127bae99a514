// Where Buffers' memory comes from. A Buffer's bytes live outside the JS heap (an ArrayBuffer
// backing store): V8's sampling heap profiler sees only the small JS object in front of it.
// This samples the Buffer factories' results by bytes (Poisson, like V8's own sampler) and
// takes the JS stack of each sampled allocation; a weak reference says whether it is still alive.
// Runs inside the traced program: imports only node: modules and the runtime addon.
import { Buffer } from 'node:buffer';
import { runtimeAddon } from './addon.js';
import { hideFramesOf, showSourceOf } from './stand-in.js';
import { monotonicMs } from './marks.js';

/** One JS frame of an external allocation: function, script, the function's start and the call position inside it (1-based). */
export type ExternalFrame = [fn: string, url: string, line: number, col: number, callLine: number, callCol: number];

/** External bytes of one stack (outermost frame first), estimated from samples. */
export interface ExternalSite {
  frames: ExternalFrame[];
  /** Estimated bytes of the sampled Buffers still alive. */
  live: number;
  liveCount: number;
  /** Estimated bytes allocated from this stack. */
  alloc: number;
  allocCount: number;
}

interface Sample {
  /** A WeakRef, or the slot of the runtime addon's weak reference. */
  ref: WeakRef<object> | number;
  weight: number;
  site: number;
}

/**
 * How a sample holds its Buffer without keeping it. V8 keeps the target of every WeakRef made in
 * a job alive until the job ends, so a program that makes and drops Buffers in one synchronous
 * loop would keep every sampled one (3000 Buffers of 1 MiB: peak RSS 268 MiB against 102
 * untraced); the runtime addon's weak references do not. Without the addon, WeakRef.
 */
interface WeakHolder {
  hold(target: object): WeakRef<object> | number;
  alive(ref: WeakRef<object> | number): boolean;
  drop(ref: WeakRef<object> | number): void;
}

function weakHolder(): WeakHolder {
  const addon = runtimeAddon();
  const { weakHold, weakAlive, weakDrop } = addon ?? {};
  if (weakHold && weakAlive && weakDrop) {
    return {
      hold: (target) => { const slot = weakHold(target); return slot >= 0 ? slot : new WeakRef(target); },
      alive: (ref) => (typeof ref === 'number' ? weakAlive(ref) : ref.deref() !== undefined),
      drop: (ref) => { if (typeof ref === 'number') weakDrop(ref); },
    };
  }
  return { hold: (target) => new WeakRef(target), alive: (ref) => (ref as WeakRef<object>).deref() !== undefined, drop: () => {} };
}

const FACTORIES = ['from', 'alloc', 'allocUnsafe', 'allocUnsafeSlow', 'concat', 'copyBytesFrom'] as const;

/** CPU time of the process so far, µs. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** The share of the program's CPU time the stacks of samples may take before the interval grows. */
const TIME_BUDGET = 0.01;
/** How often (ms of the program's time) the spend is compared with the budget. */
const BUDGET_WINDOW_MS = 50;
const MAX_INTERVAL = 1 << 30;
/** The clock is read every so many calls (and at every large Buffer): reading it at each call cost more than the sampling. */
const CLOCK_EVERY = 64;
const CLOCK_BYTES = 64 * 1024;

interface CallSiteLike {
  getFunctionName(): string | null;
  getMethodName(): string | null;
  getTypeName(): string | null;
  getFileName(): string | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
  getEnclosingLineNumber?(): number | null;
  getEnclosingColumnNumber?(): number | null;
}

/** Samples the bytes of Buffers made by Buffer.from/alloc/allocUnsafe/allocUnsafeSlow/concat/copyBytesFrom. */
export class ExternalSampler {
  private samples: Sample[] = [];
  private weak = weakHolder();
  private sites: Array<{ frames: ExternalFrame[]; alloc: number; allocCount: number }> = [];
  private siteIds = new Map<string, number>();
  private restore: Array<() => void> = [];
  /** Inside a factory: Buffer.concat calls Buffer.allocUnsafe, and node's internals call the factories too. */
  private depth = 0;
  /** Sampled bytes, all allocations (estimated). */
  allocated = 0;
  /** The mean bytes between samples now: the base, or more while stacks would cost too much. */
  private interval: number;
  /** Bytes to the next sampling point (exponentially distributed, mean `interval`). */
  private untilSample: number;
  private calls = 0;
  private windowStart = monotonicMs();
  private windowCpuStart = cpuMicros();
  /** CPU time (µs) the stacks took in this window. */
  private windowSpent = 0;
  /** The largest interval used so far (a run that never needed more keeps its base). */
  maxInterval: number;

  constructor(private intervalBytes: number) {
    this.interval = intervalBytes;
    this.maxInterval = intervalBytes;
    this.untilSample = this.nextGap();
  }

  private nextGap(): number {
    return -this.interval * Math.log(1 - Math.random());
  }

  /** Starts sampling: the factories are wrapped in proxies (name, length, properties, source and thrown errors' frames unchanged). */
  install(): void {
    const B = Buffer as unknown as Record<string, unknown>;
    for (const name of FACTORIES) {
      const original = B[name];
      if (typeof original !== 'function') continue;
      const desc = Object.getOwnPropertyDescriptor(Buffer, name);
      if (!desc || !desc.writable) continue;
      const sampler = this;
      const handler: ProxyHandler<(...args: unknown[]) => unknown> = {
        apply(target, thisArg, args) {
          sampler.depth++;
          let out: unknown;
          try { out = Reflect.apply(target, thisArg, args); } catch (e) { hideFramesOf(e, import.meta.url); throw e; } finally { sampler.depth--; }
          if (sampler.depth === 0) {
            const n = (out as { byteLength?: unknown } | null)?.byteLength;
            if (typeof n === 'number' && n > 0) sampler.onAllocation(out as object, n, handler.apply!);
          }
          return out;
        },
      };
      const proxy = new Proxy(original as (...args: unknown[]) => unknown, handler);
      showSourceOf(proxy, original);
      B[name] = proxy;
      this.restore.push(() => { B[name] = original; });
    }
  }

  /** Stops sampling (the factories are the originals again). */
  uninstall(): void {
    for (const r of this.restore.splice(0)) r();
  }

  private onAllocation(obj: object, bytes: number, below: (...args: never[]) => unknown): void {
    // Each byte is a sampling point with probability 1/interval (a Poisson process): the bytes
    // to the next point are drawn once (exponential, mean interval) and counted down, so a call
    // that is not sampled costs a subtraction. An allocation holding a point is sampled: it had
    // p = 1 - exp(-bytes/interval) of holding one and stands for bytes/p (an unbiased estimate);
    // the next gap is drawn from its end (memoryless, so every allocation keeps that p).
    // A stack costs ~1 µs a frame: a program making Buffers at 1 GB/s would spend a third of its
    // time here at 64 KiB. So when the stacks took more than TIME_BUDGET of the last window's CPU the
    // interval grows by the power of two that brings them under it, and halves back towards the
    // base when they took less than a quarter of it (the gap is redrawn at each change).
    // Each sample's weight uses the interval in force when it was drawn: the estimate stays unbiased.
    // The window is closed by any call that reads the clock, sampled or not, so that a quiet spell
    // after a busy one brings the interval back down before the next Buffers are drawn.
    if ((++this.calls & (CLOCK_EVERY - 1)) === 0 || bytes >= CLOCK_BYTES) {
      const now = monotonicMs();
      if (now - this.windowStart >= BUDGET_WINDOW_MS) this.closeWindow(now);
    }
    this.untilSample -= bytes;
    if (this.untilSample > 0) return;
    this.untilSample = this.nextGap();
    const p = -Math.expm1(-bytes / this.interval);
    const weight = bytes / p;
    const c0 = cpuMicros();
    const site = this.siteOf(below);
    this.windowSpent += cpuMicros() - c0;
    this.sites[site]!.alloc += weight;
    this.sites[site]!.allocCount++;
    this.allocated += weight;
    this.samples.push({ ref: this.weak.hold(obj), weight, site });
  }

  // CPU time on both sides: on a loaded machine wall time would count the moments the thread
  // waited for a core as the stacks' cost, and raise the interval for nothing.
  private closeWindow(now: number): void {
    const elapsed = now - this.windowStart;
    const cpuNow = cpuMicros();
    const share = this.windowSpent / Math.max(1, cpuNow - this.windowCpuStart);
    // A window is closed by the first call after it ends: one that lasted two or more means no
    // Buffer was made for a while, and the interval is halved for each window that passed.
    if (elapsed >= 2 * BUDGET_WINDOW_MS) this.interval = Math.max(this.intervalBytes, this.interval / 2 ** Math.floor(elapsed / BUDGET_WINDOW_MS));
    else if (share > TIME_BUDGET) this.interval = Math.min(MAX_INTERVAL, this.interval * 2 ** Math.ceil(Math.log2(share / TIME_BUDGET)));
    else if (share < TIME_BUDGET / 4 && this.interval > this.intervalBytes) this.interval /= 2;
    if (this.interval > this.maxInterval) this.maxInterval = this.interval;
    this.untilSample = this.nextGap();
    this.windowStart = now;
    this.windowCpuStart = cpuNow;
    this.windowSpent = 0;
  }

  private siteOf(below: (...args: never[]) => unknown): number {
    const prepare = Error.prepareStackTrace;
    const limit = Error.stackTraceLimit;
    const holder: { stack?: unknown } = {};
    let calls: CallSiteLike[] = [];
    try {
      Error.stackTraceLimit = 32;
      Error.prepareStackTrace = (_e, cs) => cs;
      Error.captureStackTrace(holder, below);
      // Read now: the stack is formatted on first access, with the prepareStackTrace of that time.
      if (Array.isArray(holder.stack)) calls = holder.stack as CallSiteLike[];
    } finally {
      Error.prepareStackTrace = prepare;
      Error.stackTraceLimit = limit;
    }
    const frames: ExternalFrame[] = [];
    let key = '';
    for (let i = calls.length - 1; i >= 0; i--) {
      const c = calls[i]!;
      const fn = c.getFunctionName() ?? '';
      const file = c.getFileName() ?? '';
      const callLine = c.getLineNumber() ?? 0;
      const callCol = c.getColumnNumber() ?? 0;
      key += `${fn}\u0001${file}\u0001${callLine}\u0001${callCol}\u0000`;
      frames.push([fn, file, c.getEnclosingLineNumber?.() ?? callLine, c.getEnclosingColumnNumber?.() ?? callCol, callLine, callCol]);
    }
    let id = this.siteIds.get(key);
    if (id === undefined) {
      id = this.sites.length;
      this.sites.push({ frames, alloc: 0, allocCount: 0 });
      this.siteIds.set(key, id);
    }
    return id;
  }

  /** External bytes by stack now: what is still alive (call after a GC for "live") and what was allocated. */
  read(): ExternalSite[] {
    const live = new Float64Array(this.sites.length);
    const liveCount = new Uint32Array(this.sites.length);
    const kept: Sample[] = [];
    for (const s of this.samples) {
      if (!this.weak.alive(s.ref)) { this.weak.drop(s.ref); continue; }
      live[s.site] = live[s.site]! + s.weight;
      liveCount[s.site] = liveCount[s.site]! + 1;
      kept.push(s);
    }
    this.samples = kept;
    return this.sites.map((s, i) => ({ frames: s.frames, live: live[i]!, liveCount: liveCount[i]!, alloc: s.alloc, allocCount: s.allocCount }))
      .filter((s) => s.alloc > 0);
  }
}
