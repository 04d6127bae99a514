import { UsageError } from '../../core/errors.js';
import { PAGE_SIZE, ProcReader, readCmdline, readDescendants, readSmapsRollup, type ProcSample } from '../../core/memory.js';

/** The V8 figures of a Node process, as `process.memoryUsage()` gives them (bytes). */
export interface V8Figures {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** One sample record of the process log (sizes in bytes, rates per second, cpu in % of one core). */
export interface SampleRecord {
  t: number;
  rss: number;
  anon: number;
  file: number;
  shmem: number;
  swap: number;
  /** Minor page faults per second since the previous sample. */
  faults: number;
  /** Major page faults per second since the previous sample. */
  majfaults: number;
  /** CPU use since the previous sample, % of one core. */
  cpu: number;
  pss?: number;
  uss?: number;
  heapUsed?: number;
  heapTotal?: number;
  external?: number;
  arrayBuffers?: number;
  /** With --children: [pid, rss] of every process of the tree, root first. */
  procs?: Array<[number, number]>;
}

/** A process that joined the tree (`{t, proc, ppid, cmd}` in the log). */
export interface ProcRecord { t: number; proc: number; ppid: number; cmd: string[] }
/** A process that left the tree (`{t, gone}` in the log). */
export interface GoneRecord { t: number; gone: number }

/** The events of a sample without --children (only the root is tracked: none join or leave), shared to spare an array a sample. */
const NO_EVENTS: Array<ProcRecord | GoneRecord> = Object.freeze([]) as unknown as Array<ProcRecord | GoneRecord>;

interface Tracked {
  reader: ProcReader;
  cmd: string;
  prev: ProcSample | null;
  prevT: number;
}

/** Options of a {@link TreeSampler}. */
export interface SamplerOptions {
  /** Follow every descendant, summing the tree. */
  children?: boolean;
  /** Add PSS/USS from smaps_rollup. */
  detail?: boolean;
  /** Rescan the tree for new processes at most this often (ms). */
  rescanMs?: number;
  /** Re-read page faults, CPU time, swap and shared memory at most this often (ms); RSS is read every sample. */
  refreshMs?: number;
  /** Processes left out of the tree with their descendants (memtrace itself, watching an ancestor). */
  exclude?: number[];
}

/**
 * Samples a process (and with `children` its whole tree) from /proc: totals, rates against the
 * previous sample, and the processes that came and went. Works on any PID, in any thread.
 */
export class TreeSampler {
  private tracked = new Map<number, Tracked>();
  private lastScan = -Infinity;
  private lastRefresh = -Infinity;
  private readonly rescanMs: number;
  private readonly refreshMs: number;
  private rates = { faults: 0, majfaults: 0, cpu: 0 };

  /** Opens the root; throws UsageError when it does not exist or cannot be read (with `detail`: its smaps_rollup too). */
  constructor(readonly rootPid: number, private opts: SamplerOptions = {}) {
    const reader = new ProcReader(rootPid);
    if (opts.detail) {
      const roll = readSmapsRollup(rootPid);
      if (typeof roll !== 'string') {
        reader.close();
        throw new UsageError(`cannot read /proc/${rootPid}/smaps_rollup for --detail: permission denied (the PSS and USS of another user's process need root or CAP_SYS_PTRACE); without --detail memtrace can sample its RSS`);
      }
    }
    this.tracked.set(rootPid, { reader, cmd: '', prev: null, prevT: 0 });
    this.rescanMs = opts.rescanMs ?? 50;
    this.refreshMs = opts.refreshMs ?? 50;
  }

  /**
   * Takes one sample at time `t` (ms since start), with the root's statm pages when they were
   * read at `t` by the timer-paced sampler. Returns null when the root has gone;
   * `events` lists processes that joined or left the tree since the last sample.
   */
  sample(t: number, rootStatm?: { resident: number; shared: number }): { record: SampleRecord; events: Array<ProcRecord | GoneRecord> } | null {
    const events: Array<ProcRecord | GoneRecord> = this.opts.children ? [] : NO_EVENTS;
    if (this.opts.children && t - this.lastScan >= this.rescanMs) {
      this.lastScan = t;
      for (const { pid, ppid } of readDescendants(this.rootPid, this.opts.exclude)) {
        const known = this.tracked.get(pid);
        const cmd = readCmdline(pid);
        if (known) {
          // A process that exec'd another program keeps its PID: say what it runs now.
          if (cmd.length && cmd.join('\0') !== known.cmd) {
            known.cmd = cmd.join('\0');
            events.push({ t, proc: pid, ppid, cmd });
          }
          continue;
        }
        try {
          this.tracked.set(pid, { reader: new ProcReader(pid), cmd: cmd.join('\0'), prev: null, prevT: t });
          events.push({ t, proc: pid, ppid, cmd });
        } catch { /* exited before it could be opened */ }
      }
    }
    const refresh = this.refreshDue(t);
    if (refresh) this.lastRefresh = t;
    const rec: SampleRecord = { t, rss: 0, anon: 0, file: 0, shmem: 0, swap: 0, faults: 0, majfaults: 0, cpu: 0 };
    const procs: Array<[number, number]> | undefined = this.opts.children ? [] : undefined;
    let denied = false;
    for (const [pid, tr] of this.tracked) {
      const s = tr.reader.sample(this.opts.detail, refresh || tr.prev === null, pid === this.rootPid ? rootStatm : undefined);
      if (!s) {
        if (pid === this.rootPid) return null;
        tr.reader.close();
        this.tracked.delete(pid);
        if (events !== NO_EVENTS) events.push({ t, gone: pid });
        continue;
      }
      rec.rss += s.rss; rec.anon += s.anon; rec.file += s.file; rec.shmem += s.shmem; rec.swap += s.swap;
      if (s.pss !== undefined) rec.pss = (rec.pss ?? 0) + s.pss;
      if (s.uss !== undefined) rec.uss = (rec.uss ?? 0) + s.uss;
      // A process of the tree whose smaps_rollup is denied: no tree total of PSS rather than a short one.
      if (this.opts.detail && s.pss === undefined) denied = true;
      if (refresh) {
        if (tr.prev && t > tr.prevT) {
          const dt = (t - tr.prevT) / 1000;
          rec.faults += (s.minflt - tr.prev.minflt) / dt;
          rec.majfaults += (s.majflt - tr.prev.majflt) / dt;
          rec.cpu += ((s.cpuMs - tr.prev.cpuMs) / (t - tr.prevT)) * 100;
        }
        tr.prev = s;
        tr.prevT = t;
      } else if (!tr.prev) {
        tr.prev = s;
        tr.prevT = t;
      }
      procs?.push([pid, s.rss]);
    }
    // Rates are measured over at least refreshMs and held between refreshes.
    if (refresh) {
      this.rates = { faults: Math.round(rec.faults), majfaults: Math.round(rec.majfaults), cpu: Math.round(rec.cpu * 10) / 10 };
    }
    rec.faults = this.rates.faults;
    rec.majfaults = this.rates.majfaults;
    rec.cpu = this.rates.cpu;
    if (denied) { delete rec.pss; delete rec.uss; }
    if (procs) rec.procs = procs;
    return { record: rec, events };
  }

  /** Whether a sample at `t` (ms since start) would re-read status and stat (page faults, CPU, swap, shared memory). */
  refreshDue(t: number): boolean {
    return t - this.lastRefresh >= this.refreshMs;
  }

  /** Closes every kept-open /proc file. */
  close(): void {
    for (const tr of this.tracked.values()) tr.reader.close();
    this.tracked.clear();
  }
}

/**
 * The record as JSON.stringify writes it (same keys, same order), built as one template: at
 * 1 kHz the stringifier's walk over the object was a fifth of the sampling thread's work.
 */
export function sampleLine(r: SampleRecord): string {
  let line = `{"t":${n(r.t)},"rss":${n(r.rss)},"anon":${n(r.anon)},"file":${n(r.file)}${ratesPart(r)}`;
  if (r.pss !== undefined) line += `,"pss":${n(r.pss)}`;
  if (r.uss !== undefined) line += `,"uss":${n(r.uss)}`;
  if (r.heapUsed !== undefined) line += v8Part(r as V8Figures);
  if (r.procs !== undefined) line += `,"procs":${JSON.stringify(r.procs)}`;
  return line + '}';
}
const ratesPart = (r: SampleRecord) => `,"shmem":${n(r.shmem)},"swap":${n(r.swap)},"faults":${n(r.faults)},"majfaults":${n(r.majfaults)},"cpu":${n(r.cpu)}`;
/** The V8 figures' part of a sample's line, as {@link sampleLine} writes it. */
export const v8Part = (v: V8Figures): string => `,"heapUsed":${n(v.heapUsed)},"heapTotal":${n(v.heapTotal)},"external":${n(v.external)},"arrayBuffers":${n(v.arrayBuffers)}`;

/**
 * The lines of the root's samples at the statm readings `readings` (triples: epoch ms, resident
 * pages, shared pages) from triple `from` up to (not including) `to`, all taken after `like`, a
 * full sample with no refresh of status and stat due in between (rates are held between
 * refreshes): only statm's figures differ, so each line is what {@link sampleLine} of a full
 * sample would write, without a record object a reading. For the root alone, without PSS/USS.
 * `t(epoch)` gives a reading's time in the log, `v8(epoch)` its V8 figures' part ('' for none).
 */
export function statmLines(like: SampleRecord, readings: Float64Array, from: number, to: number, t: (epoch: number) => number, v8: (epoch: number) => string): { text: string; count: number; lastT: number } {
  const rates = ratesPart(like);
  const end = Math.min(to, Math.floor(readings.length / 3));
  let text = '';
  let lastT = like.t;
  for (let i = 3 * from; i < 3 * end; i += 3) {
    const resident = readings[i + 1]!, shared = readings[i + 2]!;
    lastT = t(readings[i]!);
    text += `{"t":${n(lastT)},"rss":${resident * PAGE_SIZE},"anon":${(resident - shared) * PAGE_SIZE},"file":${Math.max(0, shared * PAGE_SIZE - like.shmem)}${rates}${v8(readings[i]!)}}\n`;
  }
  return { text, count: Math.max(0, end - from), lastT };
}
const n = (v: number): string | number => (Number.isFinite(v) ? v : 'null');

/** Adds V8 figures to a record. */
export function addV8(rec: SampleRecord, v8: V8Figures): void {
  rec.heapUsed = v8.heapUsed;
  rec.heapTotal = v8.heapTotal;
  rec.external = v8.external;
  rec.arrayBuffers = v8.arrayBuffers;
}
