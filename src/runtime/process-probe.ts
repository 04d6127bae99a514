// Loaded into a Node program run under `memtrace process -- node …` (NODE_OPTIONS --import).
// It sends the program's V8 figures and its marks to memtrace over an inherited pipe, from an
// unref'd timer, and does nothing else: no output, no exceptions, no change to exit.
import { writeSync } from 'node:fs';
import { epochNow, setMarkChannel } from './marks.js';

/** Environment variable naming the pipe's file descriptor. */
export const PROBE_FD_ENV = 'MEMTRACE_PROBE_FD';
/** Environment variable giving the probe's period in ms. */
export const PROBE_MS_ENV = 'MEMTRACE_PROBE_MS';

function start(): void {
  const fd = Number(process.env[PROBE_FD_ENV]);
  const period = Math.max(1, Number(process.env[PROBE_MS_ENV]) || 100);
  if (!Number.isInteger(fd) || fd < 3) return;
  let broken = false;
  const send = (line: string) => {
    if (broken) return;
    try { writeSync(fd, line); } catch { broken = true; }
  };
  const publish = () => {
    const m = process.memoryUsage();
    send(`{"p":${process.pid},"t":${epochNow()},"v":[${m.heapUsed},${m.heapTotal},${m.external},${m.arrayBuffers}]}\n`);
  };
  publish();
  const timer = setInterval(publish, period);
  timer.unref();
  // The program is exiting: what follows is teardown (V8 frees its heap), not the program's use.
  process.on('exit', () => {
    publish();
    send(`{"p":${process.pid},"t":${epochNow()},"x":1}\n`);
  });
  setMarkChannel((label, t) => send(`${JSON.stringify({ p: process.pid, t, m: label })}\n`));
}

try { start(); } catch { /* never disturb the program */ }
