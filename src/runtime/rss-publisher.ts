import { createRequire } from 'node:module';
import { runtimeAddon } from './addon.js';

/**
 * Slots of the shared Int32Array an {@link RssPublisher} writes. A probe reads `MOVED` (a plain
 * element read, ~1 ns): the publisher sets it when resident pages moved `THRESHOLD` pages or
 * more away from `REFERENCE` (both set by the reader), or always while `THRESHOLD` is 0.
 */
export const RSS_SLOT = {
  /** 1 when memory moved past the threshold since the reader last cleared it. */
  MOVED: 0,
  /** Resident pages at the last reading. */
  PAGES: 1,
  /** Pages the reader compares against (the last value it wrote out). */
  REFERENCE: 2,
  /** How many pages count as a move; 0 raises MOVED at every reading. */
  THRESHOLD: 3,
  /** 1 while the publisher should read; 0 parks it (no CPU) until set again. */
  ACTIVE: 4,
  /** 1 once the publisher thread runs its loop. */
  READY: 5,
  /** 1 asks the publisher thread to end. */
  STOP: 6,
  /** Readings taken so far. */
  READINGS: 7,
} as const;

const SLOTS = 8;

// The thread: reads /proc/self/statm on a kept-open fd every interval while ACTIVE; parks on
// Atomics.wait while not. Written as a string so it runs the same from any module system.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { openSync, readSync } = require('node:fs');
const v = new Int32Array(workerData.sab);
const fd = openSync('/proc/self/statm', 'r');
const b = Buffer.alloc(128);
const interval = workerData.intervalMs;
Atomics.store(v, ${RSS_SLOT.READY}, 1);
require('node:worker_threads').parentPort.postMessage('ready');
for (;;) {
  if (Atomics.load(v, ${RSS_SLOT.STOP}) === 1) break;
  if (Atomics.load(v, ${RSS_SLOT.ACTIVE}) !== 1) { Atomics.wait(v, ${RSS_SLOT.ACTIVE}, 0); continue; }
  const n = readSync(fd, b, 0, 128, 0);
  let i = 0;
  while (i < n && b[i] !== 32) i++;
  i++;
  let p = 0;
  while (i < n && b[i] >= 48 && b[i] <= 57) { p = p * 10 + b[i] - 48; i++; }
  v[${RSS_SLOT.PAGES}] = p;
  const th = v[${RSS_SLOT.THRESHOLD}];
  const d = p - v[${RSS_SLOT.REFERENCE}];
  if (th === 0 || d >= th || d <= -th) v[${RSS_SLOT.MOVED}] = 1;
  v[${RSS_SLOT.READINGS}]++;
  Atomics.wait(v, ${RSS_SLOT.STOP}, 0, interval);
}
`;

/** A thread that publishes this process's resident pages into shared memory. */
export interface RssPublisher {
  /** The shared slots (see {@link RSS_SLOT}). */
  view: Int32Array;
  /** Resolves once the thread runs (its start-up memory is then allocated). */
  ready: Promise<void>;
  /** Starts (1) or parks (0) the readings. */
  setActive(on: boolean): void;
  /** Ends the thread. */
  stop(): void;
}

/**
 * Starts a publisher thread reading RSS every `intervalMs` (default 1 ms, ~2% of a core while
 * active, nothing while parked). The thread is unref'd: it never keeps the process alive.
 * `view` may be given to publish into an existing shared array of at least 8 slots.
 */
export function startRssPublisher(opts: { intervalMs?: number; view?: Int32Array } = {}): RssPublisher {
  const view = opts.view ?? new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  // node:worker_threads only for this fallback (no addon): its module costs a program ~0.5 MiB.
  const { Worker } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { sab: view.buffer, intervalMs: opts.intervalMs ?? 1 },
    // Its own stdio streams: with false, node pipes them into the program's process.stdout and
    // process.stderr, creating those handles in the program before it does.
    stdout: true,
    stderr: true,
    execArgv: [],
  });
  worker.unref();
  const ready = new Promise<void>((resolve) => {
    worker.once('message', () => resolve());
    // A failed publisher leaves probes on their precise path.
    worker.once('error', () => resolve());
    worker.once('exit', () => resolve());
  });
  return {
    view,
    ready,
    setActive(on: boolean) {
      Atomics.store(view, RSS_SLOT.ACTIVE, on ? 1 : 0);
      Atomics.notify(view, RSS_SLOT.ACTIVE);
    },
    stop() {
      Atomics.store(view, RSS_SLOT.STOP, 1);
      Atomics.store(view, RSS_SLOT.ACTIVE, 1);
      Atomics.notify(view, RSS_SLOT.ACTIVE);
      Atomics.notify(view, RSS_SLOT.STOP);
    },
  };
}

/**
 * The same publisher as a plain thread of the runtime addon (`native/memtrace_runtime.c`: no V8
 * isolate: a Worker adds 11-20 MiB to the program's RSS), publishing into memory of its own that
 * outlives the isolate. Undefined when the addon is not built (no C compiler at install).
 */
export function startNativeRssPublisher(intervalMs = 1): RssPublisher | undefined {
  const addon = runtimeAddon();
  let buffer: ArrayBuffer | null | undefined;
  try { buffer = addon?.start(intervalMs); } catch { return undefined; }
  if (!buffer) return undefined;
  const view = new Int32Array(buffer);
  return {
    view,
    ready: Promise.resolve(),
    setActive(on: boolean) { view[RSS_SLOT.ACTIVE] = on ? 1 : 0; if (on) addon!.wake(); },
    stop() { view[RSS_SLOT.STOP] = 1; addon!.wake(); },
  };
}
