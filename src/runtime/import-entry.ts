// The `--import` entry of a probe when the runtime addon is not built (no C compiler at
// install): node can then only connect the channel asynchronously, and a preload's top-level
// await is what makes node wait for it before the program's first line. It imports the probe
// named in memtrace's offer (which asks withChannel() for its channel) and waits until the
// channel is up and the probe has started. With the addon, the probe loads from the
// `--require` entry (preload.cts) and connects at once.
import { openChannel } from './channel.js';

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
    await import(url);
    await openChannel();
  } catch { /* never disturb the program */ }
}
