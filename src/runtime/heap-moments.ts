// The moments the heap tool reads a profile at, inside the traced program: the end (exit or a
// fatal signal), the high-water mark of the JS heap plus external memory (--at peak), a mark
// (--at mark:NAME), a SIGUSR2 or a stopping signal (--at signal), or every N ms (--every).
// Each moment's profile goes to its own file at once (kept in memory it would be counted, and
// it would push the peak up). Imports only node: modules and runtime/.
import { writeFileSync } from 'node:fs';
import { PAGE_SIZE } from '../core/memory.js';
import { runtimeAddon, v8HeapReader } from './addon.js';
import { monotonicMs, subscribeMarks } from './marks.js';
import { ExternalSampler, type ExternalSite } from './heap-external.js';
import type { HeapInspector, ProfileNode, SamplingProfile } from './heap-inspector.js';

/** When to read the profile that the report shows. */
export type At = 'exit' | 'peak' | 'signal' | 'mark';

/** Memory of the process at one moment (bytes; t in ms since the profiler started). */
export interface MemoryPoint {
  t: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

/** The highest memory seen: a poll's reading, or V8's figures at the start of a GC (`atGc`: ArrayBuffers are not counted apart there). */
export type PeakPoint = MemoryPoint | (Omit<MemoryPoint, 'arrayBuffers'> & { arrayBuffers: null; atGc: true });

enum GcPeak { TOTAL = 0, USED = 1, EXTERNAL = 2, T = 3, PAGES = 4 }

/**
 * The addon's GC hook, which notes the heap at the start of every GC: the top of a rise inside
 * synchronous code that a GC frees before the next poll (polls run only while the event loop
 * turns). Used only when its figures are process.memoryUsage()'s (the hook reads V8's
 * HeapStatistics by its field layout).
 */
function startGcPeak(): Float64Array | undefined {
  const addon = runtimeAddon();
  if (!addon?.heapPeakStart || !v8HeapReader()) return undefined;
  const slots = addon.heapPeakStart();
  return slots ? new Float64Array(slots) : undefined;
}

/** One profile read in the program, written to `profile`. */
export interface Moment {
  kind: 'exit' | 'peak' | 'signal' | 'mark' | 'every';
  /** The mark's label or the signal's name. */
  label?: string;
  t: number;
  memory: MemoryPoint;
  /** A full GC ran first: the profile is what was live (else: what the heap held, garbage included). */
  gc: boolean;
  profile: string;
  /** External bytes (Buffers) by stack at this moment. */
  external?: ExternalSite[];
}

/** What the recorder is asked for. */
export interface MomentOptions {
  base: string;
  all: boolean;
  at: At;
  mark?: string;
  everyMs?: number;
  /** Sample Buffers' bytes and their stacks (bytes between samples). */
  externalInterval?: number;
}

/** How often (ms) the heap is polled for --at peak, while the event loop turns. */
export const PEAK_POLL_MS = 100;
/** A new peak profile is read only when the heap is this much above the last one read. */
const PEAK_STEP = 1.05;
/** True when a profile names a TypeScript file (its inline source map must then be asked for). */
export function namesTypeScript(profile: SamplingProfile): boolean {
  const walk = (n: ProfileNode): boolean => /\.[cm]?tsx?$/.test(n.callFrame.url) || n.children.some(walk);
  return walk(profile.head);
}

/** Reads profiles at the moments asked for, and memory at start, peak and end. */
export class MomentRecorder {
  readonly moments: Moment[] = [];
  readonly start: MemoryPoint;
  /** The highest memory the polls read (see peakPoint for the GC hook's). */
  peak: MemoryPoint;
  private readonly gcPeak = startGcPeak();
  private peakRead = 0;
  private trigger = 0;
  private seq = 0;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe?: () => void;
  readonly external?: ExternalSampler;
  /** A profile read names TypeScript files. */
  typescript = false;

  constructor(private inspector: HeapInspector, private opts: MomentOptions, private t0: number) {
    this.start = this.memory();
    this.peak = this.start;
    if (opts.externalInterval) {
      this.external = new ExternalSampler(opts.externalInterval);
      this.external.install();
    }
    const poll = setInterval(() => this.checkpoint(), PEAK_POLL_MS);
    poll.unref();
    this.timers.push(poll);
    if (opts.everyMs) {
      const every = setInterval(() => this.take('every', undefined, !opts.all), opts.everyMs);
      every.unref();
      this.timers.push(every);
    }
    if (opts.at === 'mark') {
      // Marks arrive synchronously (a diagnostics channel): the middle of a long computation is seen.
      this.unsubscribe = subscribeMarks((label) => { if (label === opts.mark) this.take('mark', label, !opts.all); });
    }
  }

  /** Memory now. */
  memory(): MemoryPoint {
    const m = process.memoryUsage();
    return { t: monotonicMs() - this.t0, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss };
  }

  /**
   * Notes the memory now. With --at peak, reads the profile when the heap (garbage included)
   * is 5% above every level seen at a read: the read's full GC then says what is live, and the
   * profile is kept when that live heap is the highest so far. In a program whose live heap is
   * steady the trigger climbs to the top of its garbage cycle and reads stop.
   */
  checkpoint(): MemoryPoint {
    const m = this.memory();
    const total = m.heapUsed + m.external;
    if (total > this.peak.heapUsed + this.peak.external) this.peak = m;
    if (this.opts.at === 'peak' && total > this.trigger) {
      this.trigger = total * PEAK_STEP;
      const profile = this.inspector.samplingProfile();
      const live = this.memory();
      if (live.heapUsed + live.external > this.peakRead) {
        this.peakRead = live.heapUsed + live.external;
        this.keep('peak', undefined, true, live, profile, `${this.opts.base}.peak.heapprofile`);
      }
    }
    return m;
  }

  /** Reads the profile now (V8 collects garbage first; `gc` says the moment means "live") and writes it to its own file. */
  take(kind: Moment['kind'], label: string | undefined, gc: boolean, memory?: MemoryPoint, path?: string): Moment {
    // The inspector runs a full GC before it builds a profile: the read is "live" by itself.
    const profile: SamplingProfile = kind === 'exit' ? this.inspector.stopSampling() : this.inspector.samplingProfile();
    // The moment's figures are read after that GC, like its profile: Buffers that died before
    // it are not "ArrayBuffers at the moment shown" (they read as not placed on any site). V8
    // frees dead ArrayBuffers' memory on a background sweep after the GC; the next GC finishes
    // that sweep first, so a second one makes the figure exact (a few ms on a small heap).
    this.inspector.collectGarbage();
    const after = this.memory();
    return this.keep(kind, label, gc, memory ? { ...after, t: memory.t } : after, profile, path);
  }

  private keep(kind: Moment['kind'], label: string | undefined, gc: boolean, m: MemoryPoint, profile: SamplingProfile, path?: string): Moment {
    if (!this.typescript) this.typescript = namesTypeScript(profile);
    const file = path ?? `${this.opts.base}.${kind}.${++this.seq}.heapprofile`;
    writeFileSync(file, JSON.stringify(profile));
    const moment: Moment = { kind, label, t: m.t, memory: m, gc, profile: file, external: this.external?.read() };
    if (kind === 'peak') {
      const i = this.moments.findIndex((x) => x.kind === 'peak');
      if (i >= 0) this.moments.splice(i, 1);
    }
    this.moments.push(moment);
    return moment;
  }

  /**
   * After the profile at the end: when the live heap then is within the polls' step (5%) of the
   * highest read, the end is the peak. The polls cannot tell levels apart closer than that, and a
   * cache that grew to the end would otherwise be shown part-grown whenever a read caught it
   * with transient state on top (a server's requests in flight: +3.8 MiB on the demo's 17 MiB).
   */
  endIsPeak(exit: Moment): void {
    if (this.opts.at !== 'peak') return;
    const live = this.memory();
    if ((live.heapUsed + live.external) * PEAK_STEP < this.peakRead) return;
    const i = this.moments.findIndex((x) => x.kind === 'peak');
    if (i >= 0) this.moments.splice(i, 1);
    this.moments.splice(this.moments.length - 1, 0, { ...exit, kind: 'peak', memory: live });
  }

  /**
   * The highest memory seen: the polls' peak, or the GC hook's when it is more than 5% above it
   * (a rise the polls missed; within 5% the poll's reading, which has the ArrayBuffers figure, says
   * as much).
   */
  peakPoint(): PeakPoint {
    const g = this.gcPeak;
    if (!g || g[GcPeak.TOTAL]! <= PEAK_STEP * (this.peak.heapUsed + this.peak.external)) return this.peak;
    return {
      t: g[GcPeak.T]! - this.t0, heapUsed: g[GcPeak.USED]!, external: g[GcPeak.EXTERNAL]!,
      arrayBuffers: null, rss: g[GcPeak.PAGES]! >= 0 ? g[GcPeak.PAGES]! * PAGE_SIZE : 0, atGc: true,
    };
  }

  /** Stops the timers, the GC hook and the mark channel. */
  stop(): void {
    if (this.gcPeak) runtimeAddon()?.heapPeakStop?.();
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.unsubscribe?.();
    this.external?.uninstall();
  }
}
