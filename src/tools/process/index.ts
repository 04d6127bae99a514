import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { UsageError } from '../../core/errors.js';
import { assertWritable } from '../../core/fsutil.js';
import { makeHeader, readLog } from '../../core/log.js';
import { epochNow, pushMarkSink } from '../../core/marks.js';
import { readCmdline } from '../../core/memory.js';
import type { Report } from '../../report/types.js';
import { buildReport, type ProcessSummary } from './report.js';
import { SLOT, type WorkerInit } from './shared.js';

export type { ProcessSummary } from './report.js';
export type { SampleRecord, V8Figures } from './sampler.js';

/** Options of {@link monitorProcess}. */
export interface MonitorOptions {
  /** Time between samples in ms (default 100). */
  intervalMs?: number;
  /** Log file; without it the log goes to a temporary file removed at stop(). */
  output?: string;
  /** Another process to watch (default: this one; V8 figures only for this one). */
  pid?: number;
  /** Follow the whole process tree. */
  children?: boolean;
  /** Add PSS/USS (costlier). */
  detail?: boolean;
}

/** What stop() returns: the summary, its text, the full report and where the log is. */
export interface MonitorResult extends ProcessSummary {
  /** The log's path (removed already when no output was given). */
  output: string | undefined;
  /** The full report (charts, table) of the run. */
  report: Report;
  /** The summary for people. */
  format(): string;
}

/** A running monitor. */
export interface ProcessMonitor {
  /** The log being written. */
  readonly output: string;
  /** Places a labelled mark in the log between the samples around it. */
  mark(label: string): void;
  /** Stops sampling, completes the log and summarises it. */
  stop(): Promise<MonitorResult>;
}

/**
 * Logs this process's memory (or another PID's) at regular intervals from a sampling thread,
 * which goes on sampling while the main thread is busy. In this process each sample also
 * carries the V8 figures (heapUsed, heapTotal, external, arrayBuffers) while they are fresh.
 */
export async function monitorProcess(options: MonitorOptions = {}): Promise<ProcessMonitor> {
  const intervalMs = options.intervalMs ?? 100;
  if (!(intervalMs > 0)) throw new UsageError(`intervalMs must be greater than zero (got ${intervalMs})`);
  const pid = options.pid ?? process.pid;
  const self = pid === process.pid;
  let tmp: string | undefined;
  let output = options.output;
  if (output) assertWritable(output);
  else {
    tmp = mkdtempSync(join(tmpdir(), 'memtrace-'));
    output = join(tmp, 'process.jsonl');
  }
  const shared = new SharedArrayBuffer(SLOT.BYTES);
  const i32 = new Int32Array(shared);
  const f64 = new Float64Array(shared, SLOT.F64_OFFSET);
  const publishMs = Math.max(10, intervalMs);
  const publish = () => {
    const m = process.memoryUsage();
    Atomics.add(i32, SLOT.SEQ, 1);
    f64[0] = epochNow(); f64[1] = m.heapUsed; f64[2] = m.heapTotal; f64[3] = m.external; f64[4] = m.arrayBuffers;
    Atomics.add(i32, SLOT.SEQ, 1);
  };
  if (self) publish();
  const t0 = epochNow();
  const header = makeHeader('process', {
    pid, command: self ? [process.execPath, ...process.execArgv, ...process.argv.slice(1)] : readCmdline(pid),
    interval_ms: intervalMs, children: Boolean(options.children), detail: Boolean(options.detail), in_process: self,
  });
  const init: WorkerInit & { header: typeof header } = {
    pid, intervalMs, output, children: Boolean(options.children), detail: Boolean(options.detail),
    v8: self, staleMs: publishMs * 2 + 50, t0, shared, header,
  };
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
    await worker.terminate();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  worker.unref();
  const timer = self ? setInterval(publish, publishMs) : undefined;
  timer?.unref();

  let stopped = false;
  const onExit = () => {
    // The program is ending without stop(): ask the sampling thread for a last flush and wait.
    Atomics.store(i32, SLOT.FLUSH, 1);
    Atomics.notify(i32, SLOT.FLUSH);
    Atomics.wait(i32, SLOT.ACK, 0, 1000);
  };
  process.on('exit', onExit);
  const removeSink = pushMarkSink((label, t) => worker.postMessage({ mark: label, t }));
  const out = output;

  return {
    output: out,
    mark(label: string) {
      if (!stopped) worker.postMessage({ mark: String(label), t: epochNow() });
    },
    async stop(): Promise<MonitorResult> {
      if (stopped) throw new Error('monitorProcess: stop() was already called');
      stopped = true;
      removeSink();
      process.off('exit', onExit);
      if (timer) { publish(); clearInterval(timer); }
      const done = new Promise<{ error?: string }>((resolve) => {
        worker.on('message', (m: { done?: boolean; error?: string }) => { if (m.done) resolve(m); });
      });
      worker.postMessage({ stop: true });
      const result = await done;
      await worker.terminate();
      const log = await readLog(out);
      const report = buildReport(log);
      if (result.error) report.warnings.push(result.error);
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      const summary = report.summary as unknown as ProcessSummary;
      return { ...summary, output: tmp ? undefined : out, report, format: () => report.text };
    },
  };
}
