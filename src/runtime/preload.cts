// The `--require` entry of every probe (and of malloc's marks and calls): node then runs the program's main module as it does
// untraced (with `--import`, node 20 runs a CommonJS main through its ESM loader, a .ts main
// under ts-node fails, and an uncaught exception prints another caret line and the loader's
// frames). The probe is named in memtrace's channel offer: its one-file CommonJS bundle when
// built, else the ES module (without top-level await), which node 20.19+ and 22.12+ require()
// before the main module and an older node imports a moment later. A probe that must have its channel before the first line connects through the
// runtime addon synchronously (channel.ts); memtrace uses this entry for it only when the addon
// is built.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function probeUrl(): string | undefined {
  try {
    const offer = JSON.parse(process.env.MEMTRACE_CHANNEL ?? '') as { preload?: unknown };
    if (typeof offer.preload === 'string') return offer.preload;
  } catch { /* no channel offer */ }
  // `memtrace malloc` offers no channel (the interposer is its channel): its marks preload.
  if (process.env.MEMTRACE_MALLOC_DIR) return pathToFileURL(join(__dirname, 'malloc-marks.js')).href;
  // `memtrace calls` with its options in MEMTRACE_CALLS.
  if (process.env.MEMTRACE_CALLS) {
    const bundle = join(__dirname, 'calls-preload.bundle.cjs');
    return pathToFileURL(existsSync(bundle) ? bundle : join(__dirname, 'calls-preload.js')).href;
  }
  return undefined;
}

const url = probeUrl();
if (url) {
  const file = fileURLToPath(url);
  try {
    require(file);
    // The program's require.cache holds its own modules only.
    delete require.cache[file];
    delete require.cache[__filename];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_ASYNC_MODULE') import(url).catch(() => { /* never disturb the program */ });
  }
}
