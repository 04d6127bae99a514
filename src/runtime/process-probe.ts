// Loaded into a Node program run under `memtrace process -- node …` (NODE_OPTIONS, channel.ts).
// It sends the program's V8 figures and its marks to memtrace over the verified channel, from
// an unref'd timer, and does nothing else: no output, no exceptions, no change to exit, and the
// program sees the environment it would have had untraced (see channel.ts).
import { withChannel, type Channel } from './channel.js';
import { onProcess } from './process-events.js';
import { epochNow, subscribeMarks } from './marks.js';

/** What `memtrace process` gives its probe (the channel's config). */
export interface ProcessProbeConfig {
  /** The probe's period in ms. */
  periodMs: number;
}

function start(channel: Channel): void {
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
  onProcess('exit', () => {
    publish();
    channel.send({ p: process.pid, t: epochNow(), x: 1 });
  });
  subscribeMarks((label, t) => { channel.send({ p: process.pid, t, m: label }); });
}

withChannel(start);
