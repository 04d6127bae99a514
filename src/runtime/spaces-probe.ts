// Loaded into the traced program by `memtrace spaces` (NODE_OPTIONS, channel.ts).
// It sends one message per snapshot over the verified channel (channel.ts): at start, at each
// interval, at each mark() and at exit (normal end, process.exit(), an uncaught exception,
// SIGINT/SIGTERM/SIGHUP). It prints nothing, installs no handler that changes how the program
// ends, and the program and its children see the environment they would have had untraced.
import { subscribe } from 'node:diagnostics_channel';
import { Worker } from 'node:worker_threads';
import { CHANNEL_ENV, withChannel, type Channel } from './channel.js';
import { subscribeMarks } from './marks.js';
import { beforeSignalDeath, onProcess } from './process-events.js';
import { readSnapshot } from './spaces-snapshot.js';

/** Options the CLI passes to the probe (the channel's config). */
export interface ProbeOptions {
  /** Snapshot interval in ms, or 0 for start and exit only. */
  intervalMs: number;
  /** Read code statistics at intervals and marks too (always at start and exit). */
  code: boolean;
}

// The worker's ticks reach the main thread through a diagnostics channel (no global of ours).
const TICK = 'memtrace:spaces-tick';

// Runs in a worker: every interval, asks the main thread (through the inspector, which
// V8 serves by interrupting even busy synchronous code) to take and send one snapshot.
const WORKER_SOURCE = `
const { Session } = require('node:inspector');
const { workerData } = require('node:worker_threads');
const inspector = new Session();
inspector.connectToMainThread();
let pending = false;
setInterval(() => {
  if (pending) return;
  pending = true;
  inspector.post('Runtime.evaluate', { expression: 'process.getBuiltinModule("node:diagnostics_channel").channel("${TICK}").publish("interval")', silent: true }, () => { pending = false; });
}, workerData.intervalMs);
`;

function start(channel: Channel, opts: ProbeOptions, first: Record<string, unknown>): void {
  let done = false;
  let fell = false;
  const snap = (at: string, extra: Record<string, unknown> = {}, code = opts.code) => {
    if (done) return;
    channel.send({ at, ...extra, ...readSnapshot({ code }) });
  };

  channel.send({ at: 'start', ...first });

  let reason = 'exit';
  onProcess('uncaughtExceptionMonitor', (_err: unknown, origin: string) => {
    reason = origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception';
  });
  onProcess('exit', (code) => {
    snap('exit', { reason, exitCode: code }, true);
    done = true;
  });
  // The program handles the signal itself: note it and let the program decide.
  beforeSignalDeath((sig) => {
    snap('exit', { reason: `signal ${sig}`, signal: sig }, true);
    done = true;
  }, (sig) => snap('signal', { signal: sig }));

  subscribeMarks((label) => snap('mark', { label }));

  // process.getBuiltinModule (Node 20.16+) lets the inspector's evaluation reach the channel.
  if (opts.intervalMs > 0 && typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule !== 'function') fallback();
  else if (opts.intervalMs > 0) {
    subscribe(TICK, (at) => snap(at as string));
    try {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { intervalMs: opts.intervalMs }, stdout: true, stderr: true });
      worker.on('error', () => fallback());
      worker.unref();
    } catch {
      fallback();
    }
  }
  function fallback(): void {
    // No inspector: sample from the main thread's event loop (not while it is busy).
    if (fell) return;
    fell = true;
    setInterval(() => snap('interval', { loop: true }), opts.intervalMs).unref();
  }
}

// The start snapshot is read before the channel connects: its socket is memtrace's, not the program's.
const first = process.env[CHANNEL_ENV] !== undefined ? readSnapshot({ code: true }) : undefined;
if (first) {
  withChannel((channel) => {
    const c = (channel.config ?? {}) as Partial<ProbeOptions>;
    start(channel, { intervalMs: Number(c.intervalMs) || 0, code: Boolean(c.code) }, first as unknown as Record<string, unknown>);
  });
}
