import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { UsageError, afterRun, noCommandError } from '../../core/errors.js';
import { checkOutput, checkOutputDir } from '../../core/output.js';
import { LogWriter, defaultLogName, makeHeader, readLog, type LogContents } from '../../core/log.js';
import { readCmdline } from '../../core/memory.js';
import { epochNow } from '../../runtime/marks.js';
import { ChannelHost } from '../../core/channel-host.js';
import { spawnTraced } from '../../core/spawn.js';
import { parseInterval } from '../../core/units.js';
import { buildReport } from './report.js';
import type { ProcessProbeConfig } from '../../runtime/process-probe.js';
import type { V8Figures } from './sampler.js';
import { SamplingThread, staleAfterMs, v8PeriodMs } from './shared.js';
import { helpExamples } from '../../core/help.js';

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
    .addHelpText('after', helpExamples([
      ['memtrace process -- node server.js', 'RSS and V8 heap every 100 ms'],
      ['memtrace process -i 1s -c -o build.jsonl -- npm run build', 'a whole process tree'],
      ['memtrace process --pid 4242 --detail', 'a running process, with PSS/USS'],
      ['memtrace report build.jsonl --format html', 'charts'],
    ]))
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
    throw noCommandError('process', 'memtrace process -- node app.js, or memtrace process --pid PID');
  }
  // Checked before the program starts; a device or FIFO is written as it is and not read back.
  const keep = opts.output !== undefined ? !checkOutput(opts.output).regular : false;
  if (opts.output === undefined) checkOutputDir(process.cwd());

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
      const config: ProcessProbeConfig = { periodMs: v8PeriodMs(intervalMs) };
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
  const probeMs = v8PeriodMs(intervalMs);
  let thread: SamplingThread;
  try {
    thread = await SamplingThread.start({
      pid, intervalMs, output, children: Boolean(opts.children), detail: Boolean(opts.detail),
      v8: Boolean(channel), staleMs: staleAfterMs(probeMs), t0, header, waitForStop: Boolean(exited), keep,
    });
  } catch (err) {
    if (!exited || !/no process with PID/.test((err as Error).message)) throw err;
    // The program ended before the first sample: a log that says so, with the marks and the
    // exiting moment its probe sent, and its exit passed through.
    const e = await exited;
    const said: Array<Record<string, unknown>> = [];
    if (channel) {
      await Promise.race([channel.drained(), new Promise((r) => setTimeout(r, 1000).unref())]);
      channel.onMessage((message) => {
        const m = message as { p: number; t: number; m?: string; x?: number };
        if (typeof m.m === 'string') said.push({ t: round(m.t - t0), mark: m.m, pid: m.p });
        else if (m.x) said.push({ t: round(m.t - t0), exiting: m.p });
      });
      channel.close();
    }
    return afterRun(e.exitCode, () => {
      const writer = new LogWriter(output, header, 0);
      for (const record of said) writer.write(record);
      writer.write({ t: round(epochNow() - t0), exit: { code: e.code, signal: e.signal } });
      writer.close();
      if (writer.error) throw writer.error;
      if (opts.summary) process.stderr.write(`memtrace: ${cmd[0]} ended before the first sample\n  log: ${output}\n`);
    });
  }
  let warned = false; // the failed write was said during the run: not again in the summary
  thread.onWriteError = (message) => {
    warned = true;
    process.stderr.write(`memtrace: warning: ${message}; the program goes on\n`);
  };

  // V8 figures and marks from the probe in Node programs, by PID. The sum over the tree is
  // published with the time of its oldest figure: while one process's main thread is busy (its
  // probe silent), the sum goes stale and the samples leave the V8 figures out, rather than
  // present a sum missing that process, or its old figure, as current.
  if (channel) {
    const latest = new Map<number, { t: number; v: V8Figures }>();
    const forgetMs = Math.max(1000, 10 * probeMs); // silent that long: gone (killed) or stuck
    const publishSum = (now: number) => {
      const sum: V8Figures = { heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
      let oldest = now;
      for (const [p, f] of latest) {
        if (now - f.t > forgetMs) { latest.delete(p); continue; }
        oldest = Math.min(oldest, f.t);
        sum.heapUsed += f.v.heapUsed; sum.heapTotal += f.v.heapTotal; sum.external += f.v.external; sum.arrayBuffers += f.v.arrayBuffers;
      }
      if (latest.size) thread.publishV8(sum, oldest);
    };
    channel.onMessage((message) => {
      try {
        const m = message as { p: number; t: number; v?: number[]; m?: string; x?: number; s?: [number, number] };
        if (m.v) {
          latest.set(m.p, { t: m.t, v: { heapUsed: m.v[0]!, heapTotal: m.v[1]!, external: m.v[2]!, arrayBuffers: m.v[3]! } });
          publishSum(m.t);
        } else if (typeof m.m === 'string') {
          thread.send({ mark: m.m, t: m.t, pid: m.p });
        } else if (m.x) {
          const statm = m.p === pid && Array.isArray(m.s) ? { t: m.t, resident: Number(m.s[0]), shared: Number(m.s[1]) } : undefined;
          thread.send({ record: { t: round(m.t - t0), exiting: m.p }, ...(statm ? { statm } : {}) }, m.p === pid);
          // Its last figures were sent just before: the others' sum goes on without it.
          if (latest.size > 1) { latest.delete(m.p); publishSum(m.t); }
        }
      } catch { /* a malformed message: not the probe's */ }
    });
  }

  let exitCode = 0;
  let stopped: { error?: string; contents?: LogContents };
  if (exited) {
    const e = await exited;
    // What the probe sent at exit is read before the exit record is written.
    if (channel) await Promise.race([channel.drained(), new Promise((r) => setTimeout(r, 1000).unref())]);
    channel?.close();
    thread.send({ record: { t: round(epochNow() - t0), exit: { code: e.code, signal: e.signal } } });
    exitCode = e.exitCode;
    stopped = await thread.stop();
  } else {
    // --pid: Ctrl-C or SIGTERM ends the watch, not the watched process.
    const stop = () => { void thread.stop(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await thread.finished;
    stopped = await thread.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return afterRun(exitCode, async () => {
    if (!opts.summary) return;
    // The summary of what was written: from memory when the log is not a file to read back.
    const log = stopped.contents ?? await readLog(output);
    const report = buildReport(log);
    // A write that failed is said once, with where the log stops (not also as a cut last line).
    const first = stopped.error ? (warned && stopped.error.startsWith('cannot write') ? [] : [stopped.error]) : log.warnings;
    for (const w of [...first, ...report.warnings]) process.stderr.write(`memtrace: warning: ${w}\n`);
    process.stderr.write(`${report.text}\n  log: ${output}\n`);
  });
}

function round(t: number): number {
  return Math.round(t * 1000) / 1000;
}
