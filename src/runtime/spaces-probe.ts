// Loaded into the traced program by `memtrace spaces` (NODE_OPTIONS=--import …/probe.js, options
// in MEMTRACE_SPACES). It sends one JSON line per snapshot to the pipe the CLI gave it: at start,
// at each interval, at each mark() and at exit (normal end, process.exit(), an uncaught exception,
// SIGINT/SIGTERM/SIGHUP). It prints nothing, installs no handler that changes how the program
// ends, and gives the program back the NODE_OPTIONS it had, so child processes are not traced.
import { writeSync } from 'node:fs';
import { Worker, isMainThread } from 'node:worker_threads';
import { setMarkChannel } from './marks.js';
import { readSnapshot } from './spaces-snapshot.js';

/** The environment variable carrying the probe's options (JSON). */
export const PROBE_ENV = 'MEMTRACE_SPACES';

/** Options the CLI passes to the probe. */
export interface ProbeOptions {
  /** File descriptor of the pipe to the CLI. */
  fd: number;
  /** Snapshot interval in ms, or 0 for start and exit only. */
  intervalMs: number;
  /** Read code statistics at intervals and marks too (always at start and exit). */
  code: boolean;
  /** The program's own NODE_OPTIONS (null: it had none), restored at once. */
  nodeOptions: string | null;
}

const TICK = Symbol.for('memtrace.spaces.tick');
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

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
  inspector.post('Runtime.evaluate', { expression: 'globalThis[Symbol.for("memtrace.spaces.tick")]("interval")', silent: true }, () => { pending = false; });
}, workerData.intervalMs);
`;

function start(opts: ProbeOptions): void {
  let done = false;
  let broken = false;
  const send = (message: Record<string, unknown>) => {
    if (broken) return;
    const data = Buffer.from(JSON.stringify(message) + '\n');
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(opts.fd, data, off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        broken = true; // the CLI is gone: stay silent
        return;
      }
    }
  };
  const snap = (at: string, extra: Record<string, unknown> = {}, code = opts.code) => {
    if (done) return;
    send({ at, ...extra, ...readSnapshot({ code }) });
  };

  snap('start', {}, true);

  let reason = 'exit';
  process.on('uncaughtExceptionMonitor', (err, origin) => {
    reason = origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception';
  });
  process.on('exit', (code) => {
    snap('exit', { reason, exitCode: code }, true);
    done = true;
  });
  const onSignal = (sig: NodeJS.Signals) => {
    if (process.listenerCount(sig) > 1) {
      // The program handles this signal itself: note it and let the program decide.
      snap('signal', { signal: sig });
      return;
    }
    snap('exit', { reason: `signal ${sig}`, signal: sig }, true);
    done = true;
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.kill(process.pid, sig); // the default action: end by the same signal
  };
  for (const s of SIGNALS) process.on(s, onSignal);

  setMarkChannel((label) => snap('mark', { label }));

  if (opts.intervalMs > 0) {
    Object.defineProperty(globalThis, TICK, { value: (at: string) => snap(at), enumerable: false, configurable: true });
    try {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { intervalMs: opts.intervalMs }, stdout: true, stderr: true });
      worker.on('error', () => fallback());
      worker.unref();
    } catch {
      fallback();
    }
  }
  let fell = false;
  function fallback(): void {
    // No inspector: sample from the main thread's event loop (not while it is busy).
    if (fell) return;
    fell = true;
    setInterval(() => snap('interval', { loop: true }), opts.intervalMs).unref();
  }
}

const raw = process.env[PROBE_ENV];
if (isMainThread && raw) {
  delete process.env[PROBE_ENV];
  let opts: ProbeOptions | undefined;
  try { opts = JSON.parse(raw) as ProbeOptions; } catch { opts = undefined; }
  if (opts) {
    if (opts.nodeOptions === null) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = opts.nodeOptions;
    start(opts);
  }
}
