// One reading of V8's heap spaces, heap statistics and process.memoryUsage(). Runs inside the
// traced program (the probe imports it): node: modules only.
import v8 from 'node:v8';

/** The four figures V8 gives for one heap space (bytes). */
export interface SpaceFigures {
  /** Bytes of live and not-yet-collected objects in the space. */
  used: number;
  /** Bytes committed to the space (V8's `space_size`). */
  committed: number;
  /** Bytes still free in the committed pages. */
  available: number;
  /** Bytes of the committed pages that are resident. */
  physical: number;
}

/** Heap-wide statistics from `v8.getHeapStatistics()` (bytes, or counts for contexts and handles). */
export interface HeapFigures {
  totalHeapSize: number;
  totalHeapSizeExecutable: number;
  totalPhysicalSize: number;
  totalAvailableSize: number;
  usedHeapSize: number;
  heapSizeLimit: number;
  mallocedMemory: number;
  peakMallocedMemory: number;
  externalMemory: number;
  nativeContexts: number;
  detachedContexts: number;
  totalGlobalHandlesSize: number;
  usedGlobalHandlesSize: number;
}

/** Code statistics from `v8.getHeapCodeStatistics()` (bytes); reading them walks the heap. */
export interface CodeFigures {
  codeAndMetadataSize: number;
  bytecodeAndMetadataSize: number;
  externalScriptSourceSize: number;
  cpuProfilerMetadataSize: number;
}

/** `process.memoryUsage()` (bytes). */
export interface ProcessFigures {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** One snapshot of every V8 figure at one moment. */
export interface SpacesSnapshot {
  /** Wall-clock time of the reading, ms since the epoch (sub-ms precision). */
  time: number;
  /** Per space, named as V8 names it without `_space`, dashed: new, old, code, large-object, … */
  spaces: Record<string, SpaceFigures>;
  heap: HeapFigures;
  /** Present when the snapshot was taken with `code: true`. */
  code?: CodeFigures;
  process: ProcessFigures;
}

/** Options of {@link readSnapshot}. */
export interface ReadOptions {
  /** Also read code and bytecode sizes (`v8.getHeapCodeStatistics()`): walks the heap, ~0.1 ms per MiB of heap. */
  code?: boolean;
}

/** V8's space name as memtrace shows it: `new_large_object_space` → `new-large-object`. */
export function spaceName(v8Name: string): string {
  return v8Name.replace(/_space$/, '').replace(/_/g, '-');
}

/** Reads one snapshot now (~10 µs without code statistics; most of it is process.memoryUsage()). */
export function readSnapshot(options: ReadOptions = {}): SpacesSnapshot {
  const time = performance.timeOrigin + performance.now();
  const spaces: Record<string, SpaceFigures> = {};
  for (const s of v8.getHeapSpaceStatistics()) {
    spaces[spaceName(s.space_name)] = {
      used: s.space_used_size,
      committed: s.space_size,
      available: s.space_available_size,
      physical: s.physical_space_size,
    };
  }
  const h = v8.getHeapStatistics() as v8.HeapInfo & { external_memory?: number; total_global_handles_size?: number; used_global_handles_size?: number };
  const heap: HeapFigures = {
    totalHeapSize: h.total_heap_size,
    totalHeapSizeExecutable: h.total_heap_size_executable,
    totalPhysicalSize: h.total_physical_size,
    totalAvailableSize: h.total_available_size,
    usedHeapSize: h.used_heap_size,
    heapSizeLimit: h.heap_size_limit,
    mallocedMemory: h.malloced_memory,
    peakMallocedMemory: h.peak_malloced_memory,
    externalMemory: h.external_memory ?? 0,
    nativeContexts: h.number_of_native_contexts,
    detachedContexts: h.number_of_detached_contexts,
    totalGlobalHandlesSize: h.total_global_handles_size ?? 0,
    usedGlobalHandlesSize: h.used_global_handles_size ?? 0,
  };
  let code: CodeFigures | undefined;
  if (options.code) {
    const c = v8.getHeapCodeStatistics() as v8.HeapCodeStatistics & { cpu_profiler_metadata_size?: number };
    code = {
      codeAndMetadataSize: c.code_and_metadata_size,
      bytecodeAndMetadataSize: c.bytecode_and_metadata_size,
      externalScriptSourceSize: c.external_script_source_size,
      cpuProfilerMetadataSize: c.cpu_profiler_metadata_size ?? 0,
    };
  }
  const m = process.memoryUsage();
  const snap: SpacesSnapshot = {
    time,
    spaces,
    heap,
    process: { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers },
  };
  if (code) snap.code = code;
  return snap;
}
