// The `--require` entry of a probe whose start needs no waiting (heap's): node then runs the
// program's main module as it does untraced. With `--import`, node runs a CommonJS main through
// its ESM loader, and an uncaught exception prints another caret line and the loader's frames.
// The probe (an ES module without top-level await) is named in memtrace's channel offer; node
// 20.19+ and 22.12+ require() it before the main module, an older node imports it a moment later.
import { fileURLToPath } from 'node:url';

function probeUrl(): string | undefined {
  try {
    const offer = JSON.parse(process.env.MEMTRACE_CHANNEL ?? '') as { preload?: unknown };
    return typeof offer.preload === 'string' ? offer.preload : undefined;
  } catch {
    return undefined;
  }
}

const url = probeUrl();
if (url) {
  try {
    require(fileURLToPath(url));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_ASYNC_MODULE') import(url).catch(() => { /* never disturb the program */ });
  }
}
