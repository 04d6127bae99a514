// The public library API: one line per tool, re-exported from the tools' own index.ts.
export { mark } from './runtime/marks.js';
export { parseBytes, parseDuration, formatBytes, formatDuration } from './core/units.js';
export { UsageError } from './core/errors.js';
export type { LogHeader, LogRecord, LogContents } from './core/log.js';
export { readLog } from './core/log.js';
export { buildReport, writeReport } from './report/index.js';
export type { Report } from './report/types.js';
// the heap-snapshot engine
export { loadSnapshot, parseSnapshot, HeapGraph, bornBetween, SnapshotParser, SnapshotFormatError } from './snapshot/index.js';
export type { Edge, PathStep, PathCluster, ClassAggregate, Progress, RawHeapSnapshot } from './snapshot/index.js';

// process: memory over time
export { monitorProcess } from './tools/process/index.js';
export type { MonitorOptions, MonitorResult, ProcessMonitor, ProcessSummary, SampleRecord, V8Figures } from './tools/process/index.js';

// spaces: V8 heap spaces either side of a block
export { diffSpaces, snapshotSpaces, diff as diffSnapshots, SpacesDiff, SpacesResult, DEFAULT_THRESHOLD as SPACES_DEFAULT_THRESHOLD } from './tools/spaces/index.js';
export type { DiffSpacesOptions, SnapshotOptions, Snapshot, SpacesMark, SpacesSnapshot, SpaceFigures, HeapFigures, CodeFigures, ProcessFigures, Change, SpaceChange, FormatOptions } from './tools/spaces/index.js';

// calls
export { traceCalls, instrumentCalls } from './tools/calls/index.js';
export type { TraceCallsOptions, CallsResult, CallsMark, CallEvent, CallsSummary, FunctionMemory, InstrumentScope } from './tools/calls/index.js';
// malloc: every malloc/free of a command, through an LD_PRELOAD interposer
export { traceMalloc, interposerPath, readMallocLog } from './tools/malloc/index.js';
export type { MallocOptions, MallocResult, MallocAnalysis } from './tools/malloc/index.js';

// heap
export {
  traceHeap, startHeap, heapSnapshot, stopHeapSnapshots, liveObjects,
  HeapResult, HeapTracer, HeapSnapshot, HeapDiff, DEFAULT_INTERVAL,
} from './tools/heap/index.js';
export type { HeapOptions, ObjectsChange, DiffRow, GroupBy, HeapTotals, Site } from './tools/heap/index.js';

// leaks: what grows across iterations, who holds it, where it was allocated
export { findLeaks, assertNoLeaks, analyzeSnapshots, LeaksResult } from './tools/leaks/index.js';
export type { FindLeaksOptions, Leak, LeakAnalysis, GrowingGroup, NonLeak } from './tools/leaks/index.js';
