// Bundles each probe that runs inside a traced program, with the runtime modules it imports,
// into one CommonJS file beside it (dist/runtime/NAME.bundle.cjs): the --require preload then
// loads one plain script instead of node's require(esm) of a module graph (half the start-up
// time in the program, less memory, and no ESM loader set up in a CommonJS program). The tsc
// output stays the library's; the channel host offers the bundle when it exists.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runtime = join(dirname(dirname(fileURLToPath(import.meta.url))), 'dist', 'runtime');
/** The probes the channel host offers (their `import.meta.url` becomes the bundle's own URL: same folder, same relative paths). */
const PROBES = ['process-probe', 'spaces-probe', 'heap-preload', 'leaks-probe', 'calls-preload'];

await build({
  entryPoints: PROBES.map((p) => ({ in: join(runtime, `${p}.js`), out: `${p}.bundle` })),
  outdir: runtime,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  define: { 'import.meta.url': '__memtraceUrl' },
  banner: { js: `'use strict';\nconst __memtraceUrl = require('node:url').pathToFileURL(__filename).href;` },
  logLevel: 'warning',
});
