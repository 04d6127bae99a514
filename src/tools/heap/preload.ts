// Loaded into the traced program by `memtrace heap` (NODE_OPTIONS=--import this file): starts
// V8's heap profiler before the program's first line, and at exit (normal end, process.exit,
// an uncaught error, or SIGINT/SIGTERM/SIGHUP) writes the profile (or, with --exact, a heap
// snapshot with allocation stacks) and a small meta file for the memtrace process to read.
// Small on purpose: imports only node: modules and ./inspector.js.
import { writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { HeapInspector } from './inspector.js';

/** What the memtrace process asks of the preload, passed as JSON in MEMTRACE_HEAP. */
export interface PreloadConfig {
  /** Where to write the .heapprofile (sampled mode). */
  profile: string;
  /** Where to write the .heapsnapshot (exact mode). */
  snapshot: string;
  /** Where to write the meta JSON. */
  meta: string;
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
  error?: string;
}

const ENV = 'MEMTRACE_HEAP';

function run(): void {
  const raw = process.env[ENV];
  if (!raw) return;
  // Children of the program are not traced: they would overwrite the files.
  delete process.env[ENV];
  if (process.env.NODE_OPTIONS) {
    process.env.NODE_OPTIONS = process.env.NODE_OPTIONS.replace(/\s*--import[= ]\S*\/tools\/heap\/preload\.js\S*|\s*--track-heap-objects/g, '').trim();
  }
  const config = JSON.parse(raw) as PreloadConfig;
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
    };
    try {
      if (!config.all || config.exact) inspector.collectGarbage();
      if (config.exact) {
        inspector.snapshotTo(config.snapshot);
      } else {
        writeFileSync(config.profile, JSON.stringify(inspector.stopSampling()));
      }
    } catch (err) {
      meta.error = (err as Error)?.message ?? String(err);
    }
    inspector.close();
    meta.writeMs = performance.now() - w0;
    try { writeFileSync(config.meta, JSON.stringify(meta)); } catch { /* the memtrace process reports the missing file */ }
  };

  process.on('exit', (code) => finish('exit', code));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      // The program handles this signal itself: let it decide; 'exit' still writes the profile.
      if (process.listenerCount(sig) > 1) return;
      finish(sig, null);
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

run();
