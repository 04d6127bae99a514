// Loaded into the traced program by `memtrace heap` (NODE_OPTIONS=--import this file): starts
// V8's heap profiler before the program's first line, and at exit (normal end, process.exit,
// an uncaught error, or SIGINT/SIGTERM/SIGHUP) writes the profile (or, with --exact, a heap
// snapshot with allocation stacks) and a small meta file for the memtrace process to read.
// Options come in memtrace's channel offer (channel.ts): the program alone takes them, or every
// node process of the tree when the command is a wrapper (npx, tsx and npm start the real
// program as a child), each writing its own PID-named files; the memtrace process picks the
// program. Small on purpose: imports only node: modules and runtime files.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { removeAbandoned, takeOffer } from './channel.js';
import { HeapInspector } from './heap-inspector.js';
import { monotonicMs } from './marks.js';
import { MomentRecorder, type At, type MemoryPoint, type Moment, type PeakPoint } from './heap-moments.js';
import { beforeSignalDeath, onProcess } from './process-events.js';

/** What the memtrace process asks of the preload (the channel offer's config). */
export interface PreloadConfig {
  /** The directory where each process writes PID.heapprofile (or PID.heapsnapshot) and PID.json. */
  dir: string;
  intervalBytes: number;
  all: boolean;
  exact: boolean;
  /** The moment the report shows (sampled mode); every moment read is listed in the meta. */
  at: At;
  /** The mark's label for `at: 'mark'`. */
  mark?: string;
  /** Read a profile every so many ms as well. */
  everyMs?: number;
  /** Sample Buffers' bytes with their stacks. */
  external: boolean;
  /** PID of the memtrace process that reads the files: when it is gone, nothing is left behind. */
  reader?: number;
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
  /** The profiles read during the run (sampled mode), the last one at the end. */
  moments?: Moment[];
  /** Memory at the start, at the highest JS heap plus external seen, and at the end (before the final GC). */
  memory?: { start: MemoryPoint; peak: PeakPoint; end: MemoryPoint };
  error?: string;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

function run(): void {
  // Worker threads share the process's heap profiler: the offer is for the main thread only.
  const offer = takeOffer();
  const config = offer?.config as PreloadConfig | undefined;
  if (!config) return;
  const base = join(config.dir, String(process.pid));
  const t0 = monotonicMs();
  const inspector = new HeapInspector();
  // --exact: V8 tracks allocations from the isolate's start (--track-heap-objects, set by the
  // memtrace process in NODE_OPTIONS); the inspector's startTrackingHeapObjects would keep
  // the event loop alive and the program would never end on its own.
  // Every profile read forces a full GC first, which collects a CommonJS module whose functions
  // are dead once it has run, and V8 then cannot name its file or lines: keep scripts alive.
  if (!config.exact) inspector.keepScripts();
  if (!config.exact) inspector.startSampling({ intervalBytes: config.intervalBytes, all: config.all });
  // With --exact it only notes memory (start, peak, end): the snapshot at exit is the profile.
  const recorder = new MomentRecorder(inspector, {
    base, all: config.all, at: config.exact ? 'exit' : config.at, mark: config.mark, everyMs: config.exact ? undefined : config.everyMs,
    // A Buffer sample takes a JS stack (tens of µs): twice the interval halves that cost and
    // keeps a 16 MiB cache of Buffers at ~270 samples (6% sampling error).
    externalInterval: config.external && !config.exact ? 2 * config.intervalBytes : undefined,
  }, t0);

  let done = false;
  const finish = (reason: string, exitCode: number | null) => {
    if (done) return;
    done = true;
    if (config.reader && !alive(config.reader)) {
      try { rmSync(config.dir, { recursive: true, force: true }); } catch { /* not ours to insist */ }
      removeAbandoned(offer!);
      return;
    }
    const durationMs = monotonicMs() - t0;
    const w0 = monotonicMs();
    const end = recorder.checkpoint();
    const meta: PreloadMeta = {
      pid: process.pid, reason, exitCode, durationMs, writeMs: 0,
      memoryUsage: process.memoryUsage(), heapUsed: getHeapStatistics().used_heap_size, cwd: process.cwd(),
      argv: [process.argv0, ...process.execArgv, ...process.argv.slice(1)],
      profile: config.exact ? `${base}.heapsnapshot` : `${base}.heapprofile`,
    };
    try {
      recorder.stop();
      meta.memory = { start: recorder.start, peak: recorder.peakPoint(), end };
      if (!config.exact) {
        recorder.endIsPeak(recorder.take('exit', undefined, !config.all, end, meta.profile));
        meta.moments = recorder.moments;
        // Inline maps (tsx, loaders) only when TypeScript ran: asking costs 40 ms and more.
        if (recorder.typescript) meta.inlineMaps = inspector.inlineSourceMaps();
      } else {
        inspector.collectGarbage();
        inspector.snapshotTo(meta.profile);
        meta.inlineMaps = inspector.inlineSourceMaps();
      }
    } catch (err) {
      meta.error = (err as Error)?.message ?? String(err);
    }
    inspector.close();
    meta.writeMs = monotonicMs() - w0;
    try { writeFileSync(`${base}.json`, JSON.stringify(meta)); } catch { /* the memtrace process reports the missing file */ }
  };

  onProcess('exit', (code) => finish('exit', code));
  // --at signal: the profile at the signal, before the program's own handler (or the end) runs.
  const atSignal = (sig: string) => { if (config.at === 'signal' && !config.exact && !done) recorder.take('signal', sig, !config.all); };
  // A program that handles the signal itself decides; its 'exit' still writes the profile.
  beforeSignalDeath((sig) => { atSignal(sig); finish(sig, null); }, atSignal);
  // SIGUSR2 would end the program: it is caught only when asked for, and the program goes on.
  if (config.at === 'signal' && !config.exact) onProcess('SIGUSR2', () => atSignal('SIGUSR2'));
}

run();
