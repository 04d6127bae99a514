import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { assertWritable, assertWritableDir } from '../../core/fsutil.js';
import { LogWriter, defaultLogName, makeHeader, readLog } from '../../core/log.js';
import { readCmdline } from '../../core/memory.js';
import { epochNow } from '../../runtime/marks.js';
import { ChannelHost } from '../../core/channel-host.js';
import { spawnTraced } from '../../core/spawn.js';
import { parseInterval } from '../../core/units.js';
import { buildReport } from './report.js';
import type { ProcessProbeConfig } from '../../runtime/process-probe.js';
import type { V8Figures } from './sampler.js';
import { SamplingThread } from './shared.js';

interface ProcessOptions {
  interval: string;
  output?: string;
  pid?: string;
  children?: boolean;
  detail?: boolean;
  v8: boolean;
  summary: boolean;
}

const probeUrl = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../../runtime/process-probe.js')).href;

/** Adds `memtrace process` to the CLI. */
export function register(program: Command): void {
  program
    .command('process')
    .description('log the memory of a program (or any PID) at regular intervals')
    .usage('[options] -- <command> [args...]\n       memtrace process [options] --pid PID')
    .argument('[command...]', 'the program to run and monitor')
    .option('-i, --interval <duration>', 'time between samples (100ms, 0.5s, 1m)', '100ms')
    .option('-o, --output <file>', 'the log file (default: memtrace-process-DATE-TIME-PID.jsonl here)')
    .option('-p, --pid <pid>', 'monitor a running process instead of starting one')
    .option('-c, --children', 'follow the whole process tree: its total and one series per process')
    .option('-d, --detail', 'also PSS and USS from /proc/PID/smaps_rollup (costlier per sample)')
    .option('--no-v8', 'do not add the V8 figures of a Node program (no NODE_OPTIONS --import)')
    .option('--no-summary', 'do not print the summary at exit')
    .passThroughOptions()
    .action(async (command: string[], opts: ProcessOptions) => {
      process.exitCode = await runProcessCommand(command, opts);
    });
}

async function runProcessCommand(command: string[], opts: ProcessOptions): Promise<number> {
  const intervalMs = parseInterval(opts.interval);
  if (opts.pid !== undefined && command.length > 0) throw new UsageError('give either --pid or a command, not both');
  if (opts.pid === undefined && command.length === 0) {
    throw new UsageError('no command given: memtrace process [options] -- <command> [args...], or --pid PID');
  }
  if (opts.output !== undefined) assertWritable(opts.output, 'write log');
  else assertWritableDir(process.cwd());

  let pid: number;
  let exited: Promise<{ code: number | null; signal: string | null; exitCode: number }> | undefined;
  let channel: ChannelHost | undefined;
  let cmd: string[];
  if (opts.pid !== undefined) {
    if (!/^\d+$/.test(opts.pid) || Number(opts.pid) <= 0) throw new UsageError(`--pid: '${opts.pid}' is not a process id`);
    pid = Number(opts.pid);
    cmd = readCmdline(pid);
  } else {
    let env = process.env;
    if (opts.v8) {
      // Only the program takes the channel, unless --children asks for the whole tree.
      const config: ProcessProbeConfig = { periodMs: Math.max(10, intervalMs) };
      channel = await ChannelHost.open({ tree: Boolean(opts.children), config });
      env = channel.environment(env, probeUrl);
    }
    const child = await spawnTraced(command, { env }).catch((err) => { channel?.close(); throw err; });
    pid = child.pid;
    exited = child.exited;
    cmd = command;
  }
  const t0 = epochNow();
  const output = opts.output ?? defaultLogName('process', pid);
  const header = makeHeader('process', {
    pid, command: cmd, interval_ms: intervalMs, children: Boolean(opts.children), detail: Boolean(opts.detail),
  });
  const probeMs = Math.max(10, intervalMs);
  let thread: SamplingThread;
  try {
    thread = await SamplingThread.start({
      pid, intervalMs, output, children: Boolean(opts.children), detail: Boolean(opts.detail),
      v8: Boolean(channel), staleMs: probeMs * 2 + 50, t0, header, waitForStop: Boolean(exited),
    });
  } catch (err) {
    if (!exited || !/no process with PID/.test((err as Error).message)) throw err;
    // The program ended before the first sample: a log that says so, and its exit passed through.
    const e = await exited;
    channel?.close();
    const writer = new LogWriter(output, header, 0);
    writer.write({ t: round(epochNow() - t0), exit: { code: e.code, signal: e.signal } });
    writer.close();
    if (opts.summary) process.stderr.write(`memtrace: ${cmd[0]} ended before the first sample\n  log: ${output}\n`);
    return e.exitCode;
  }
  thread.onWriteError = (message, count) => {
    process.stderr.write(`memtrace: ${message}; the log stops at record ${count}, the program goes on\n`);
  };

  // V8 figures and marks from the probe in Node programs, by PID: the sum of the fresh ones is
  // published to the sampling thread.
  if (channel) {
    const latest = new Map<number, { t: number; v: V8Figures }>();
    channel.onMessage((message) => {
      try {
        const m = message as { p: number; t: number; v?: number[]; m?: string; x?: number };
        if (m.v) {
          latest.set(m.p, { t: m.t, v: { heapUsed: m.v[0]!, heapTotal: m.v[1]!, external: m.v[2]!, arrayBuffers: m.v[3]! } });
          const sum: V8Figures = { heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
          for (const [p, f] of latest) {
            if (m.t - f.t > probeMs * 2 + 50) { latest.delete(p); continue; }
            sum.heapUsed += f.v.heapUsed; sum.heapTotal += f.v.heapTotal; sum.external += f.v.external; sum.arrayBuffers += f.v.arrayBuffers;
          }
          thread.publishV8(sum, m.t);
        } else if (typeof m.m === 'string') {
          thread.send({ mark: m.m, t: m.t, pid: m.p });
        } else if (m.x) {
          thread.send({ record: { t: round(m.t - t0), exiting: m.p } });
        }
      } catch { /* a malformed message: not the probe's */ }
    });
  }

  let exitCode = 0;
  if (exited) {
    const e = await exited;
    // What the probe sent at exit is read before the exit record is written.
    if (channel) await Promise.race([channel.drained(), new Promise((r) => setTimeout(r, 1000).unref())]);
    channel?.close();
    thread.send({ record: { t: round(epochNow() - t0), exit: { code: e.code, signal: e.signal } } });
    exitCode = e.exitCode;
    await thread.stop();
  } else {
    // --pid: Ctrl-C or SIGTERM ends the watch, not the watched process.
    const stop = () => { void thread.stop(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await thread.finished;
    await thread.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (opts.summary) {
    const log = await readLog(output);
    const report = buildReport(log);
    process.stderr.write(`${report.text}\n  log: ${output}\n`);
  }
  return exitCode;
}

function round(t: number): number {
  return Math.round(t * 1000) / 1000;
}
