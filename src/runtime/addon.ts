// The runtime's Node-API addon (native/memtrace_runtime.c, built at install beside the malloc
// interposer): a blocking connect(2) for the channel, the RSS publisher thread of `calls`, weak
// references for heap's Buffer sampler, and whether the caller is on the main thread.
// Loaded with process.dlopen, not require, so the program's require.cache stays its own.
import { createRequire } from 'node:module';
import { fs } from '../core/node-fs.js';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
const { existsSync } = fs;

/** What the addon exports. */
export interface RuntimeAddon {
  /** Connects a unix stream socket to `path`, blocking: the descriptor, or -errno. */
  connect(path: string): number;
  /** Starts the RSS publisher thread (rss-publisher.ts); null when it cannot. */
  start(intervalMs: number): ArrayBuffer | null;
  /** Ends the publisher thread's idle wait at once. */
  wake(): void;
  /** A weak reference to `target` that does not keep it alive to the end of the job (a WeakRef does): its slot, or -1. */
  weakHold?(target: object): number;
  /** Whether the target of slot `slot` is still alive. */
  weakAlive?(slot: number): boolean;
  /** Forgets slot `slot` (it is reused). */
  weakDrop?(slot: number): void;
  /** Whether the caller runs on the process's main thread (its thread id is the process id). */
  mainThread?(): boolean;
  /** The epoch ms at which process.hrtime() (CLOCK_MONOTONIC) read zero. */
  epochAtMonotonicZero?(): number;
  /**
   * Starts noting the JS heap's high-water mark at the start of every GC: slots (Float64) of the
   * highest used + external bytes, its used and external bytes, its CLOCK_MONOTONIC ms, resident
   * pages then, GCs seen; null when the node has no such hook or it is on already.
   */
  heapPeakStart?(): ArrayBuffer | null;
  /** Stops the GC hook. */
  heapPeakStop?(): void;
  /** [used, external] heap bytes as the hook reads them, or null. */
  heapStatistics?(): [number, number] | null;
  /** Runs `source` as a classic script of this realm (as vm.runInThisContext does) and returns its value. */
  runScript?(source: string): unknown;
}

/** Where native/build.js puts the addon. */
export const RUNTIME_ADDON_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native', 'build', 'memtrace-runtime.node');

/**
 * Whether memtrace should have probes connect synchronously (and load them with `--require`):
 * the addon is built, and MEMTRACE_NO_ADDON does not ask for the route of an install without a
 * C compiler (the tests take both). Read in memtrace's process, not in the program.
 */
export function syncConnectAvailable(): boolean {
  return !process.env.MEMTRACE_NO_ADDON && existsSync(RUNTIME_ADDON_PATH);
}

let loaded: RuntimeAddon | null | undefined;

/** The addon, loaded once; null when it is not built or does not load. */
export function runtimeAddon(): RuntimeAddon | null {
  if (loaded !== undefined) return loaded;
  const mod = { exports: {} as Partial<RuntimeAddon> };
  try {
    process.dlopen(mod, RUNTIME_ADDON_PATH);
    loaded = typeof mod.exports.connect === 'function' ? (mod.exports as RuntimeAddon) : null;
  } catch {
    loaded = null;
  }
  return loaded;
}

/**
 * Whether this is the program's main thread, not a Worker: asked of the addon when it is built
 * (node:worker_threads' module, loaded for its isMainThread, costs a program ~0.5 MiB of RSS).
 */
export function onMainThread(): boolean {
  const addon = runtimeAddon();
  if (typeof addon?.mainThread === 'function') return addon.mainThread();
  return (createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads')).isMainThread;
}

let heapReader: (() => [number, number] | null) | null | undefined;
const memoryUsage = process.memoryUsage; // as it was at load: the program may replace it

/**
 * The addon's read of V8's heap, [used, external] bytes (~1 µs, against ~10 µs for
 * process.memoryUsage(), which reads /proc for the RSS as well: ~60 µs while the heap grows and
 * the GC's threads fault pages in), when it agrees with process.memoryUsage() at its first use
 * (it reads V8's HeapStatistics by their field layout); else null.
 */
export function v8HeapReader(): (() => [number, number] | null) | null {
  if (heapReader !== undefined) return heapReader;
  const addon = runtimeAddon();
  heapReader = null;
  if (typeof addon?.heapStatistics !== 'function') return null;
  const m = memoryUsage();
  const check = addon.heapStatistics();
  const near = (a: number, b: number) => Math.abs(a - b) <= 0.01 * b + 65536;
  if (check && near(check[0], m.heapUsed) && near(check[1], m.external)) heapReader = addon.heapStatistics.bind(addon);
  return heapReader;
}
