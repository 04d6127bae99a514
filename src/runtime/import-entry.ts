// The `--import` entry of a probe when the runtime addon is not built (no C compiler at
// install): node can then only connect the channel asynchronously, and a preload's top-level
// await is what makes node wait for it before the program's first line. It imports the probe
// named in memtrace's offer (which asks withChannel() for its channel) and waits until the
// channel is up and the probe has started. With the addon, the probe loads from the
// `--require` entry (preload.cts) and connects at once.
import { offeredProbe, openChannel } from './channel.js';

const url = offeredProbe();
if (url) {
  try {
    await import(url);
    await openChannel();
  } catch { /* never disturb the program */ }
}
