// The in-process side of the heap tool: V8's heap profiler through a same-thread inspector
// session. Loaded into the traced program (by the preload) and by the library, so it imports
// nothing outside `node:`. A same-thread session answers synchronously, so every call here is
// synchronous and usable from an 'exit' handler.
import { Session } from 'node:inspector';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A node of V8's sampling heap profile (the `.heapprofile` format DevTools opens). */
export interface ProfileNode {
  callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  id: number;
  children: ProfileNode[];
}

/** V8's sampling heap profile: the call tree and one entry per sampled object still kept. */
export interface SamplingProfile {
  head: ProfileNode;
  samples: Array<{ size: number; nodeId: number; ordinal: number }>;
}

/** Options of the sampling heap profiler. */
export interface SamplingOptions {
  /** Mean bytes between samples (V8's default 32 KiB). */
  intervalBytes: number;
  /** Keep samples of objects the GC collected (everything allocated), not only live ones. */
  all: boolean;
}

/** A synchronous wrapper over an inspector session's HeapProfiler domain. */
export class HeapInspector {
  private session: Session;
  private connected = false;
  private coverage = false;

  /** Connects a same-thread inspector session and enables the HeapProfiler domain. */
  constructor() {
    this.session = new Session();
    this.session.connect();
    this.connected = true;
    this.post('HeapProfiler.enable');
  }

  /** Sends one command and returns its result (same-thread sessions answer before post returns). */
  post<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>): T {
    let result: unknown;
    let error: Error | null = null;
    let answered = false;
    this.session.post(method, params ?? {}, (err: Error | null, res?: unknown) => {
      error = err;
      result = res;
      answered = true;
    });
    if (error) throw error;
    if (!answered) throw new Error(`inspector did not answer ${method} synchronously`);
    return result as T;
  }

  /** Starts V8's sampling heap profiler. */
  startSampling(opts: SamplingOptions): void {
    this.post('HeapProfiler.startSampling', {
      samplingInterval: opts.intervalBytes,
      includeObjectsCollectedByMajorGC: opts.all,
      includeObjectsCollectedByMinorGC: opts.all,
    });
  }

  /**
   * Keeps every script alive from now on, so that profiles name the file and lines of code
   * whose functions are all dead (a CommonJS module that has run). Reading a sampling profile
   * forces a full GC, and V8 resolves a frame's URL and line from its script only if the
   * script survived it. V8's precise (binary) coverage holds every function's feedback vector,
   * hence its script: 8-15 ms at the start, where Debugger.enable (scriptParsed events) costs
   * 40 ms and more. Nothing is counted and the coverage is never read.
   */
  keepScripts(): void {
    // The coverage mode is the isolate's: under NODE_V8_COVERAGE (c8, node --test --coverage)
    // node already counts precisely, which keeps scripts too, and must not be switched.
    if (process.env.NODE_V8_COVERAGE) return;
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: false, detailed: false });
    this.coverage = true;
  }

  /**
   * Runs a full garbage collection now (so that "live" means reachable). The inspector's
   * HeapProfiler.collectGarbage answers later on newer V8, so this uses V8's gc() from a
   * fresh context instead: synchronous, and the program's global gets no gc().
   */
  collectGarbage(): void {
    fullGc();
  }

  /** The sampling profile so far (the profiler keeps running). */
  samplingProfile(): SamplingProfile {
    return this.post<{ profile: SamplingProfile }>('HeapProfiler.getSamplingProfile').profile;
  }

  /** Stops the sampling profiler and returns its last profile. */
  stopSampling(): SamplingProfile {
    return this.post<{ profile: SamplingProfile }>('HeapProfiler.stopSampling').profile;
  }

  /** Starts recording the allocation stack of every object (V8 allocation tracking). */
  startTracking(): void {
    this.post('HeapProfiler.startTrackingHeapObjects', { trackAllocations: true });
  }

  /** Stops allocation tracking. */
  stopTracking(): void {
    this.post('HeapProfiler.stopTrackingHeapObjects', { reportProgress: false });
  }

  /**
   * Writes a heap snapshot to `path` (V8's writeHeapSnapshot: synchronous on every Node, where
   * the inspector's takeHeapSnapshot answers later on newer ones). With allocation tracking on,
   * it holds every live object's allocation stack. The process runs several times slower
   * afterwards until {@link close} disables the domain.
   */
  snapshotTo(path: string): string {
    return writeHeapSnapshot(path);
  }

  /**
   * The inline source maps (data: URLs) of the scripts loaded so far, by script URL: code
   * transformed in memory (tsx, ts-node, loaders) has its map only there, not on disk.
   */
  inlineSourceMaps(): Record<string, string> {
    const maps: Record<string, string> = {};

    const onParsed = (m: { params: { url: string; sourceMapURL?: string } }) => {
      const { url, sourceMapURL } = m.params;
      if (url && !url.startsWith('node:') && sourceMapURL?.startsWith('data:')) maps[url] = sourceMapURL;
    };
    this.session.on('Debugger.scriptParsed', onParsed);
    try {
      this.post('Debugger.enable');
      this.post('Debugger.disable');
    } finally {
      this.session.off('Debugger.scriptParsed', onParsed);
    }
    return maps;
  }

  /** Disables the HeapProfiler domain (ends tracking and the post-snapshot slowdown) and disconnects. */
  close(): void {
    if (!this.connected) return;
    this.connected = false;
    try { this.post('HeapProfiler.disable'); } catch { /* already gone */ }
    if (this.coverage) { try { this.post('Profiler.disable'); } catch { /* already gone */ } }
    try { this.session.disconnect(); } catch { /* already gone */ }
  }
}

let gcFn: (() => void) | undefined;

/** Runs a full, synchronous garbage collection. */
export function fullGc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}
