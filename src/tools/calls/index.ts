// The library API of `memtrace calls`: traceCalls(fn) runs fn with the call probes writing.
import { LogWriter, makeHeader } from '../../core/log.js';
import { pushMarkSink } from '../../runtime/marks.js';
import { UsageError } from '../../core/errors.js';
import { now, popSink, pushSink, type CallEvent, type CallsSink } from '../../runtime/calls-runtime.js';
import { formatCallsSummary, summarizeCalls, type CallsSummary } from './summary.js';

export { instrumentCalls, type InstrumentScope } from '../../runtime/calls-install.js';
export type { CallEvent } from '../../runtime/calls-runtime.js';
export type { CallsSummary, FunctionMemory } from './summary.js';

/** Options of {@link traceCalls}. */
export interface TraceCallsOptions {
  /** Write an event only when RSS moved this many bytes since the last one (default 4096, one page; 0: every event). */
  trigger?: number;
  /** Also write the log (JSON Lines) to this path. */
  output?: string;
}

/** A mark placed with mark(text) during the trace. */
export interface CallsMark { t: number; mark: string }

/** What traceCalls found. */
export interface CallsResult {
  /** Events written, in order. */
  events: CallEvent[];
  marks: CallsMark[];
  /** Records as written to the log (events, marks, pause/resume of nested traces). */
  records: Array<Record<string, unknown>>;
  summary: CallsSummary;
  /** The log written, when `output` was given. */
  output?: string;
  /** The summary for people. */
  format(top?: number): string;
}

/**
 * Runs `fn` (sync or async) with the call probes of instrumented code writing events where RSS
 * moved by `trigger` bytes or more. Code must have been loaded with the instrumentation on
 * (`node --import memtrace/calls`, the `memtrace calls` command, or instrumentCalls()).
 * Traces nest: an inner trace gets its own events; the outer notes a pause and a resume.
 */
export function traceCalls(fn: () => Promise<unknown>, options?: TraceCallsOptions): Promise<CallsResult>;
export function traceCalls(fn: () => unknown, options?: TraceCallsOptions): CallsResult;
export function traceCalls(fn: () => unknown, options: TraceCallsOptions = {}): CallsResult | Promise<CallsResult> {
  const trigger = options.trigger ?? 4096;
  if (!(trigger >= 0) || !Number.isFinite(trigger)) throw new UsageError(`trigger: '${trigger}' must be a size of 0 bytes or more`);
  const start = now();
  const records: Array<Record<string, unknown>> = [];
  const writer = options.output
    ? new LogWriter(options.output, makeHeader('calls', { pid: process.pid, command: process.argv.slice(), trigger, library: true }))
    : undefined;
  const sink: CallsSink = {
    trigger,
    start,
    lastRss: 0,
    write(record) {
      records.push(record);
      writer?.write(record);
    },
  };
  // Marks arrive synchronously: timed on arrival by the trace's clock.
  const removeMarks = pushMarkSink((label) => sink.write({ t: Math.round((now() - start) * 1000) / 1000, mark: label }));
  pushSink(sink);
  const finish = (): CallsResult => {
    popSink(sink);
    removeMarks();
    writer?.close();
    const summary = summarizeCalls(records);
    return {
      events: records.filter((r) => typeof r.ev === 'string') as unknown as CallEvent[],
      marks: records.filter((r) => typeof r.mark === 'string') as unknown as CallsMark[],
      records,
      summary,
      output: options.output,
      format: (top = 10) => formatCallsSummary(summary, top),
    };
  };
  let value: unknown;
  try {
    value = fn();
  } catch (err) {
    finish();
    throw err;
  }
  if (value && typeof (value as PromiseLike<unknown>).then === 'function') {
    return Promise.resolve(value).then(() => finish(), (err) => { finish(); throw err; });
  }
  return finish();
}
