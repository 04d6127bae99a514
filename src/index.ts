// The public library API: one line per tool, re-exported from the tools' own index.ts.
export { mark } from './core/marks.js';
export { parseBytes, parseDuration, formatBytes, formatDuration } from './core/units.js';
export { UsageError } from './core/errors.js';
export type { LogHeader, LogRecord, LogContents } from './core/log.js';
export { readLog } from './core/log.js';
export { buildReport, writeReport } from './report/index.js';
export type { Report } from './report/types.js';

// malloc: every malloc/free of a command, through an LD_PRELOAD interposer
export { traceMalloc, interposerPath, readMallocLog } from './tools/malloc/index.js';
export type { MallocOptions, MallocResult, MallocAnalysis } from './tools/malloc/index.js';
