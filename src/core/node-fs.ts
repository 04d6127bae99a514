// node:fs for the modules memtrace puts into a traced program, taken with require rather than
// imported: an ES module's import of a built-in makes node read every one of its exports, lazy
// ones too, and node:fs's (`promises`, the stream classes) load readline, the REPL history and
// the whole stream stack: 1.3 MiB of the RSS of a CommonJS program that uses none of them
// (node 24), paid for memtrace's runtime. The functions are taken once, at load, as an import
// would have bound them.
import { createRequire } from 'node:module';

/** node:fs, without an ES module facade. */
export const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
