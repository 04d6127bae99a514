// The `--import memtrace/calls` entry: instruments the program and, unless told otherwise,
// traces it from start to exit into a log (calls-start.ts; options in MEMTRACE_CALLS). Its
// top-level await makes node wait for the start before the program's first line.
import { onMainThread } from './addon.js';
import { startCalls } from './calls-start.js';

export type { CallsEnvOptions } from './calls-start.js';

if (onMainThread()) await startCalls();
