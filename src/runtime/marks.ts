// mark() and the probes of the memtrace command meet on a diagnostics channel: a name node
// shares across every copy of this module loaded in the process (the program's installed
// memtrace, the probe's), and nothing the program can see among its globals.
import { channel as diagnosticsChannel, subscribe, unsubscribe } from 'node:diagnostics_channel';

/** Where marks go: each active trace registers one; the innermost receives them. */
export type MarkSink = (label: string, epochMs: number) => void;

const sinks: MarkSink[] = [];
const MARKS = 'memtrace:mark';

/** Registers a sink for marks (the innermost active trace); returns a function that removes it. */
export function pushMarkSink(sink: MarkSink): () => void {
  sinks.push(sink);
  return () => {
    const i = sinks.lastIndexOf(sink);
    if (i >= 0) sinks.splice(i, 1);
  };
}

/** Receives the marks of the program (a probe of `memtrace <tool> -- node …` calls it); returns a function that stops. */
export function subscribeMarks(sink: MarkSink): () => void {
  const onMessage = (message: unknown) => {
    const m = message as { label: string; t: number };
    sink(m.label, m.t);
  };
  subscribe(MARKS, onMessage);
  return () => { unsubscribe(MARKS, onMessage); };
}

/** Current wall-clock time in ms with sub-ms precision (shared by every thread and process). */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A clock of epoch ms read from process.hrtime() (CLOCK_MONOTONIC) plus `epochAtZero`, the
 * runtime addon's epochAtMonotonicZero(); epochNow when that is undefined. A probe times with it
 * so as not to load the `performance` global, which costs a program that does not use it
 * 1.5 MiB of RSS. (node's `performance.timeOrigin + now()` reads 0.8-1.2 ms ahead of it.)
 */
export function anchoredClock(epochAtZero: number | undefined): () => number {
  if (epochAtZero === undefined || !Number.isFinite(epochAtZero)) return epochNow;
  return () => epochAtZero + monotonicMs();
}

const hrtime = process.hrtime; // as it was at load: fake timers may replace it

/** ms on the monotonic clock (CLOCK_MONOTONIC, one for every process): for durations in a probe, without the `performance` global. */
export function monotonicMs(): number {
  const [sec, ns] = hrtime();
  return sec * 1e3 + ns / 1e6;
}

/**
 * Places a labelled mark in every active trace: the innermost in-process trace, and the log of a
 * `memtrace` command this program runs under. Returns false when nothing is tracing.
 */
export function mark(label: string): boolean {
  const t = epochNow();
  const text = String(label);
  let delivered = false;
  const inner = sinks[sinks.length - 1];
  if (inner) { inner(text, t); delivered = true; }
  const marks = diagnosticsChannel(MARKS);
  if (marks.hasSubscribers) { marks.publish({ label: text, t }); delivered = true; }
  return delivered;
}
