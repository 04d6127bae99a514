/** Where marks go: each active trace registers one; the innermost receives them. */
export type MarkSink = (label: string, epochMs: number) => void;

const sinks: MarkSink[] = [];
const CHANNEL = Symbol.for('memtrace.markChannel');

/** Registers a sink for marks (the innermost active trace); returns a function that removes it. */
export function pushMarkSink(sink: MarkSink): () => void {
  sinks.push(sink);
  return () => {
    const i = sinks.lastIndexOf(sink);
    if (i >= 0) sinks.splice(i, 1);
  };
}

/** Sets the channel a CLI probe offers (marks from a program traced by `memtrace <tool> -- node …`). */
export function setMarkChannel(sink: MarkSink | undefined): void {
  (globalThis as Record<symbol, unknown>)[CHANNEL] = sink;
}

/** Current wall-clock time in ms with sub-ms precision (shared by every thread and process). */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
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
  const channel = (globalThis as Record<symbol, unknown>)[CHANNEL] as MarkSink | undefined;
  if (channel) { channel(text, t); delivered = true; }
  return delivered;
}
