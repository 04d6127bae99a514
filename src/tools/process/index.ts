import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOutput } from '../../core/output.js';
import { makeHeader, readLog } from '../../core/log.js';
import { epochNow, pushMarkSink } from '../../runtime/marks.js';
import { readCmdline } from '../../core/memory.js';
import { checkInterval } from '../../core/units.js';
import type { Report } from '../../report/types.js';
import { buildReport, type ProcessSummary } from './report.js';
import { SamplingThread, staleAfterMs, v8PeriodMs } from './shared.js';

export type { ProcessSummary } from './report.js';
export type { SampleRecord, V8Figures } from './sampler.js';

/** Options of {@link monitorProcess}. */
export interface MonitorOptions {
  /** Time between samples in ms (default 100; 1 ms to 24 days). */
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
  const intervalMs = checkInterval(options.intervalMs ?? 100, 'intervalMs');
  const pid = options.pid ?? process.pid;
  const self = pid === process.pid;
  let tmp: string | undefined;
  let output = options.output;
  const keep = output ? !checkOutput(output).regular : false;
  if (output) { /* checked */ }
  else {
    tmp = mkdtempSync(join(tmpdir(), 'memtrace-'));
    output = join(tmp, 'process.jsonl');
  }
  const publishMs = v8PeriodMs(intervalMs);
  const t0 = epochNow();
  const header = makeHeader('process', {
    pid, command: self ? [process.execPath, ...process.execArgv, ...process.argv.slice(1)] : readCmdline(pid),
    interval_ms: intervalMs, children: Boolean(options.children), detail: Boolean(options.detail), in_process: self,
  });
  let thread: SamplingThread;
  try {
    thread = await SamplingThread.start({
      pid, intervalMs, output, children: Boolean(options.children), detail: Boolean(options.detail),
      v8: self, staleMs: staleAfterMs(publishMs), t0, header, keep,
    });
  } catch (err) {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const publish = () => thread.publishV8(process.memoryUsage());
  if (self) publish();
  const timer = self ? setInterval(publish, publishMs) : undefined;
  timer?.unref();

  let stopped = false;
  // The program is ending without stop(): have the sampling thread complete the log, and wait.
  const onExit = () => thread.stopSync();
  process.on('exit', onExit);
  const removeSink = pushMarkSink((label, t) => thread.send({ mark: label, t }));
  const out = output;

  return {
    output: out,
    mark(label: string) {
      if (!stopped) thread.send({ mark: String(label), t: epochNow() });
    },
    async stop(): Promise<MonitorResult> {
      if (stopped) throw new Error('monitorProcess: stop() was already called');
      stopped = true;
      removeSink();
      process.off('exit', onExit);
      if (timer) { publish(); clearInterval(timer); }
      const result = await thread.stop();
      const log = result.contents ?? await readLog(out);
      const report = buildReport(log);
      if (result.error) report.warnings.push(result.error);
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      const summary = report.summary as unknown as ProcessSummary;
      return { ...summary, output: tmp ? undefined : out, report, format: () => report.text };
    },
  };
}
