// The public library API: one line per tool, re-exported from the tools' own index.ts.
export { mark } from './core/marks.js';
export { parseBytes, parseDuration, formatBytes, formatDuration } from './core/units.js';
export { UsageError } from './core/errors.js';
export type { LogHeader, LogRecord, LogContents } from './core/log.js';
export { readLog } from './core/log.js';
export { buildReport, writeReport } from './report/index.js';
export type { Report } from './report/types.js';
export {
  traceHeap, startHeap, heapSnapshot, stopHeapSnapshots, liveObjects,
  HeapResult, HeapTracer, HeapSnapshot, HeapDiff, DEFAULT_INTERVAL,
} from './tools/heap/index.js';
export type { HeapOptions, ObjectsChange, DiffRow, GroupBy, HeapTotals, Site } from './tools/heap/index.js';
