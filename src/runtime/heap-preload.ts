// Loaded into the traced program by `memtrace heap` (NODE_OPTIONS=--import this file): starts
// V8's heap profiler before the program's first line, and at exit (normal end, process.exit,
// an uncaught error, or SIGINT/SIGTERM/SIGHUP) writes the profile (or, with --exact, a heap
// snapshot with allocation stacks) and a small meta file for the memtrace process to read.
// Options come in memtrace's channel offer (channel.ts): the program alone takes them, or every
// node process of the tree when the command is a wrapper (npx, tsx and npm start the real
// program as a child), each writing its own PID-named files; the memtrace process picks the
// program. Small on purpose: imports only node: modules and runtime files.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { takeOffer } from './channel.js';
import { HeapInspector } from './heap-inspector.js';
import { beforeSignalDeath } from './signals.js';

/** What the memtrace process asks of the preload (the channel offer's config). */
export interface PreloadConfig {
  /** The directory where each process writes PID.heapprofile (or PID.heapsnapshot) and PID.json. */
  dir: string;
  intervalBytes: number;
  all: boolean;
  exact: boolean;
}

/** What the preload reports back besides the profile. */
export interface PreloadMeta {
  pid: number;
  /** How the program ended: 'exit' or the signal name. */
  reason: string;
  exitCode: number | null;
  /** ms from the profiler starting to the program ending. */
  durationMs: number;
  /** ms spent writing the profile or snapshot at exit. */
  writeMs: number;
  memoryUsage: NodeJS.MemoryUsage;
  heapUsed: number;
  cwd: string;
  /** The process's command line. */
  argv: string[];
  /** The profile or snapshot it wrote. */
  profile: string;
  /** Inline source maps of code transformed in memory (tsx, loaders), by script URL. */
  inlineMaps?: Record<string, string>;
  error?: string;
}

function run(): void {
  // Worker threads share the process's heap profiler: the offer is for the main thread only.
  const config = takeOffer()?.config as PreloadConfig | undefined;
  if (!config) return;
  const base = join(config.dir, String(process.pid));
  const t0 = performance.now();
  const inspector = new HeapInspector();
  // --exact: V8 tracks allocations from the isolate's start (--track-heap-objects, set by the
  // memtrace process in NODE_OPTIONS); the inspector's startTrackingHeapObjects would keep
  // the event loop alive and the program would never end on its own.
  if (!config.exact) inspector.startSampling({ intervalBytes: config.intervalBytes, all: config.all });

  let done = false;
  const finish = (reason: string, exitCode: number | null) => {
    if (done) return;
    done = true;
    const durationMs = performance.now() - t0;
    const w0 = performance.now();
    const meta: PreloadMeta = {
      pid: process.pid, reason, exitCode, durationMs, writeMs: 0,
      memoryUsage: process.memoryUsage(), heapUsed: getHeapStatistics().used_heap_size, cwd: process.cwd(),
      argv: [process.argv0, ...process.execArgv, ...process.argv.slice(1)],
      profile: config.exact ? `${base}.heapsnapshot` : `${base}.heapprofile`,
    };
    try {
      if (!config.all || config.exact) inspector.collectGarbage();
      if (config.exact) {
        inspector.snapshotTo(meta.profile);
      } else {
        writeFileSync(meta.profile, JSON.stringify(inspector.stopSampling()));
      }
      meta.inlineMaps = inspector.inlineSourceMaps();
    } catch (err) {
      meta.error = (err as Error)?.message ?? String(err);
    }
    inspector.close();
    meta.writeMs = performance.now() - w0;
    try { writeFileSync(`${base}.json`, JSON.stringify(meta)); } catch { /* the memtrace process reports the missing file */ }
  };

  process.on('exit', (code) => finish('exit', code));
  // A program that handles the signal itself decides; its 'exit' still writes the profile.
  beforeSignalDeath((sig) => finish(sig, null));
}

run();
