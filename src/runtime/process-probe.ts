// Loaded into a Node program run under `memtrace process -- node …` (NODE_OPTIONS, channel.ts).
// It sends the program's V8 figures and its marks to memtrace over the verified channel, from
// an unref'd timer, and does nothing else: no output, no exceptions, no change to exit, and the
// program sees the environment it would have had untraced (see channel.ts).
import { closeSync, openSync, readSync } from 'node:fs';
import { withChannel, type Channel } from './channel.js';
import { onProcess } from './process-events.js';
import { anchoredClock, subscribeMarks } from './marks.js';
import { runtimeAddon } from './addon.js';

/** What `memtrace process` gives its probe (the channel's config). */
export interface ProcessProbeConfig {
  /** The probe's period in ms. */
  periodMs: number;
}

function start(channel: Channel): void {
  // The addon is loaded for the channel's connect already (else this is epochNow).
  const epochNow = anchoredClock(runtimeAddon()?.epochAtMonotonicZero?.());
  const config = (channel.config ?? {}) as Partial<ProcessProbeConfig>;
  const period = Math.max(1, Number(config.periodMs) || 100);
  const publish = () => {
    const m = process.memoryUsage();
    channel.send({ p: process.pid, t: epochNow(), v: [m.heapUsed, m.heapTotal, m.external, m.arrayBuffers] });
  };
  publish();
  const timer = setInterval(publish, period);
  timer.unref();
  // The program is exiting: what follows is teardown (V8 frees its heap), not the program's use.
  // Its resident and shared pages now go with the message: memtrace's own read of them came a
  // moment later, when node had begun to free its heap (less anonymous memory than JS heap).
  onProcess('exit', () => {
    publish();
    channel.send({ p: process.pid, t: epochNow(), x: 1, ...statmNow() });
  });
  // Marks arrive synchronously: timed on arrival by this clock (the program's copy of marks.ts
  // reads node's `performance`).
  subscribeMarks((label) => { channel.send({ p: process.pid, t: epochNow(), m: label }); });
}

/** Resident and shared pages from /proc/self/statm (the fs functions as they were when the probe loaded), or nothing. */
const fs = { openSync, readSync, closeSync };
function statmNow(): { s?: [number, number] } {
  try {
    const fd = fs.openSync('/proc/self/statm', 'r');
    try {
      const b = Buffer.alloc(128);
      const f = b.toString('latin1', 0, fs.readSync(fd, b, 0, b.length, 0)).split(' ');
      const resident = Number(f[1]), shared = Number(f[2]);
      return Number.isFinite(resident) && Number.isFinite(shared) ? { s: [resident, shared] } : {};
    } finally { fs.closeSync(fd); }
  } catch {
    return {};
  }
}

withChannel(start);
