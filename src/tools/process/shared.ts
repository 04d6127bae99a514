import { Worker } from 'node:worker_threads';
import type { LogContents, LogHeader } from '../../core/log.js';
import { UsageError } from '../../core/errors.js';
import { epochNow } from '../../runtime/marks.js';
import type { V8Figures } from './sampler.js';
import { PACER_BELOW_MS, startPacerHelper, type PacerHelper } from './timer-pacer.js';

/** How many V8 figures the shared ring keeps (the sampling thread reads them every 100 ms; they come every 10 ms at most). */
const RING = 64;
const FIGURES = 5; // epochMs, heapUsed, heapTotal, external, arrayBuffers

/** Layout of the memory shared between the main thread and the sampling thread. */
export const SLOT = {
  /** Int32 index: how many V8 figures were published so far (figure k is in ring entry k % RING). */
  COUNT: 0,
  /** Int32 index: set to 1 by the main thread to stop sampling (the thread waits on it). */
  STOP: 1,
  /** Int32 index: set to 1 by the sampling thread once the log is complete. */
  ACK: 2,
  /** Int32 index of the first entry's seqlock counter (odd while the entry is being written). */
  SEQ: 4,
  /** Entries in the ring. */
  RING,
  /** Byte offset of the ring's Float64 entries, FIGURES each: [epochMs, heapUsed, heapTotal, external, arrayBuffers]. */
  F64_OFFSET: (4 + RING) * 4,
  /** Total bytes. */
  BYTES: (4 + RING) * 4 + RING * FIGURES * 8,
} as const;

/** A V8 figure as the sampling thread takes it from the ring. */
export interface TimedV8 { t: number; v: V8Figures }

/**
 * The V8 figures published since the last call, oldest first, read from the ring without locks
 * (an entry being written, or overwritten while read, is skipped). `from` is the count already read.
 */
export function readRing(shared: SharedArrayBuffer, from: number): { figures: TimedV8[]; count: number } {
  const i32 = new Int32Array(shared);
  const f64 = new Float64Array(shared, SLOT.F64_OFFSET);
  const count = Atomics.load(i32, SLOT.COUNT);
  const figures: TimedV8[] = [];
  for (let k = Math.max(from, count - RING); k < count; k++) {
    const e = k % RING;
    const s1 = Atomics.load(i32, SLOT.SEQ + e);
    if (s1 & 1) continue;
    const o = e * FIGURES;
    const f = { t: f64[o]!, v: { heapUsed: f64[o + 1]!, heapTotal: f64[o + 2]!, external: f64[o + 3]!, arrayBuffers: f64[o + 4]! } };
    if (Atomics.load(i32, SLOT.SEQ + e) === s1) figures.push(f);
  }
  return { figures, count };
}

/**
 * How often (ms) V8 figures are read at a sampling interval of `intervalMs`: with it, but at most
 * 20 times a second. Only the program's main thread can read them, and each reading wakes its
 * event loop (~50-150 µs of the program's CPU on a VM): at 100 a second they cost a program
 * 1.5% of a core, where RSS at 1 kHz costs it nothing (memtrace reads /proc).
 */
export function v8PeriodMs(intervalMs: number): number {
  return Math.max(50, intervalMs);
}

/**
 * How old (ms) a V8 figure published every `periodMs` may be and still stand for a sample: one
 * period, half a period of timer lateness, 10 ms of scheduling. Older means the publishing
 * thread's event loop has not turned (busy in synchronous code): the sample leaves it out.
 */
export function staleAfterMs(periodMs: number): number {
  return periodMs * 1.5 + 10;
}

/** What the sampling thread is started with. */
export interface WorkerInit {
  pid: number;
  intervalMs: number;
  output: string;
  children: boolean;
  detail: boolean;
  /** Add the V8 figures published in shared memory. */
  v8: boolean;
  /** When the watched process goes, wait for stop() rather than end (more records may come). */
  waitForStop?: boolean;
  /** Keep the records in memory and hand them back at stop (a log that cannot be read back: a device, a FIFO). */
  keep?: boolean;
  /** V8 figures older than this (ms) are left out. */
  staleMs: number;
  t0: number;
  shared: SharedArrayBuffer;
  /** The timer-paced helper's FIFO, when one runs (intervals under 10 ms, no tree). */
  pacerFifo?: string;
}

/** A message to the sampling thread: a mark, or a record to write as it is. */
export interface WorkerMessage {
  mark?: string;
  t?: number;
  pid?: number;
  record?: object;
  /** With a root's `exiting` record: its statm pages read by the probe at epoch ms `t`. */
  statm?: { t: number; resident: number; shared: number };
}

/** The main thread's handle on a running sampling thread. */
export class SamplingThread {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private published = 0;
  private readonly done: Promise<{ error?: string; rootGone?: boolean; contents?: LogContents }>;
  /** Called once if the log cannot be written any more (disk full…). */
  onWriteError: ((message: string, count: number) => void) | undefined;

  private constructor(private readonly worker: Worker, shared: SharedArrayBuffer, private readonly helper: PacerHelper | null) {
    this.i32 = new Int32Array(shared);
    this.f64 = new Float64Array(shared, SLOT.F64_OFFSET);
    this.done = new Promise((resolve) => {
      worker.on('message', (m: { done?: boolean; error?: string; rootGone?: boolean; writeError?: string; count?: number; contents?: LogContents }) => {
        if (m.writeError) this.onWriteError?.(m.writeError, m.count ?? 0);
        if (m.done) resolve(m);
      });
      worker.on('error', (err) => resolve({ error: `sampling thread failed: ${err.message}` }));
    });
  }

  /** Starts sampling `pid` into `output`; rejects with a UsageError when the PID or file is unusable. */
  static async start(opts: Omit<WorkerInit, 'shared' | 't0'> & { header: LogHeader; t0?: number }): Promise<SamplingThread> {
    const shared = new SharedArrayBuffer(SLOT.BYTES);
    const helper = !opts.children && opts.intervalMs < PACER_BELOW_MS && !process.env.MEMTRACE_NO_PACER ? startPacerHelper(opts.pid, opts.intervalMs) : null;
    const init = { ...opts, t0: opts.t0 ?? epochNow(), shared, ...(helper ? { pacerFifo: helper.fifo } : {}) };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once('message', (m: { ready?: boolean; error?: string; usage?: boolean }) => {
          if (m.ready) resolve();
          else reject(m.usage ? new UsageError(m.error!) : new Error(m.error));
        });
        worker.once('error', reject);
      });
    } catch (err) {
      helper?.stop();
      await worker.terminate();
      throw err;
    }
    worker.unref();
    return new SamplingThread(worker, shared, helper);
  }

  /** Publishes V8 figures (taken at `epochMs`): each sample takes the figure nearest its own time. */
  publishV8(v: V8Figures, epochMs = epochNow()): void {
    const { i32, f64 } = this;
    const e = this.published % SLOT.RING;
    const o = e * FIGURES;
    Atomics.add(i32, SLOT.SEQ + e, 1);
    f64[o] = epochMs; f64[o + 1] = v.heapUsed; f64[o + 2] = v.heapTotal; f64[o + 3] = v.external; f64[o + 4] = v.arrayBuffers;
    Atomics.add(i32, SLOT.SEQ + e, 1);
    Atomics.store(i32, SLOT.COUNT, ++this.published);
  }

  /** Sends a mark (or a record) to be written in time order with the samples; `wake` has it taken at once rather than at the next tick. */
  send(m: WorkerMessage, wake = false): void {
    this.worker.postMessage(m);
    if (wake) Atomics.notify(this.i32, SLOT.STOP);
  }

  /** Resolves when the thread has ended by itself (the watched process is gone) or was stopped. */
  get finished(): Promise<{ error?: string; rootGone?: boolean; contents?: LogContents }> {
    return this.done;
  }

  /** Stops sampling; resolves once the log is complete and closed. */
  async stop(): Promise<{ error?: string; contents?: LogContents }> {
    Atomics.store(this.i32, SLOT.STOP, 1);
    Atomics.notify(this.i32, SLOT.STOP);
    const r = await this.done;
    this.helper?.stop();
    await this.worker.terminate();
    return r;
  }

  /** Stops sampling from a synchronous context (an 'exit' handler): waits up to `ms` for the log. */
  stopSync(ms = 1000): void {
    Atomics.store(this.i32, SLOT.STOP, 1);
    Atomics.notify(this.i32, SLOT.STOP);
    Atomics.wait(this.i32, SLOT.ACK, 0, ms);
    this.helper?.stop();
  }

}
