// The `--import memtrace/calls` entry: instruments the program and, unless told otherwise,
// traces it from start to exit into a log. Options come as JSON in MEMTRACE_CALLS, e.g.
// MEMTRACE_CALLS='{"trigger":65536,"output":"calls.jsonl","include":["**/node_modules/yaml/**"]}'.
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { LogWriter, defaultLogName, makeHeader } from '../core/log.js';
import { epochNow, setMarkChannel } from './marks.js';
import { instrumentCalls } from './calls-install.js';
import { closeRuntime, pushSink, popSink, type CallsSink } from './calls-runtime.js';

/** Options read from the MEMTRACE_CALLS environment variable. */
export interface CallsEnvOptions {
  trigger?: number;
  output?: string;
  lines?: boolean;
  include?: string[];
  exclude?: string[];
  /** false: instrument only; traces are started with traceCalls(). */
  trace?: boolean;
  /** Several processes may share the options (a tree under one command): the first to write an event owns the log. */
  claim?: boolean;
  /** Print nothing (the memtrace command prints the summary itself). */
  quiet?: boolean;
}

function readOptions(): CallsEnvOptions {
  const raw = process.env.MEMTRACE_CALLS;
  if (!raw) return {};
  try {
    const o = JSON.parse(raw) as unknown;
    if (o && typeof o === 'object' && !Array.isArray(o)) return o as CallsEnvOptions;
  } catch { /* below */ }
  process.stderr.write(`memtrace: warning: MEMTRACE_CALLS is not a JSON object; using the defaults\n`);
  return {};
}

async function main(): Promise<void> {
  const opts = readOptions();
  const ready = instrumentCalls({ include: opts.include, exclude: opts.exclude, lines: opts.lines });
  if (opts.trace === false) return;
  // The program starts once the publisher runs: its start-up is not charged to the program.
  await ready;
  const trigger = typeof opts.trigger === 'number' && opts.trigger >= 0 ? opts.trigger : 4096;
  const output = opts.output ?? defaultLogName('calls', process.pid);
  const start = epochNow();
  let writer: LogWriter | undefined;
  let refused = false;
  const open = (): LogWriter | undefined => {
    if (writer || refused) return writer;
    if (opts.claim) {
      // The first process of the tree to write owns the log; the others stay silent.
      try { closeSync(openSync(output, 'wx')); } catch { refused = true; popSink(sink); return undefined; }
    }
    try {
      writer = new LogWriter(output, makeHeader('calls', {
        pid: process.pid, command: process.argv.slice(), trigger, lines: !!opts.lines,
        include: opts.include ?? [], exclude: opts.exclude ?? [], start: new Date(start).toISOString(),
      }));
    } catch (err) {
      refused = true;
      popSink(sink);
      process.stderr.write(`memtrace: ${(err as Error).message}\n`);
      if (opts.claim) try { unlinkSync(output); } catch { /* not ours */ }
    }
    return writer;
  };
  const sink: CallsSink = {
    trigger,
    start,
    lastRss: 0,
    write(record) { open()?.write(record); },
  };
  setMarkChannel((label, t) => sink.write({ t: Math.round((t - start) * 1000) / 1000, mark: label }));
  pushSink(sink);
  process.on('exit', () => {
    popSink(sink);
    closeRuntime();
    if (!writer && !opts.claim && !refused) open();
    if (writer) {
      writer.close();
      if (!opts.quiet) process.stderr.write(`memtrace: calls log written to ${output} (${writer.count} records)\n`);
    }
  });
}

if (isMainThread) await main();
