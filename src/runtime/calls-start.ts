// Starts `memtrace calls` in this process: instruments the program and, unless told otherwise,
// traces it from start to exit into a log. Options come as JSON in MEMTRACE_CALLS, e.g.
// MEMTRACE_CALLS='{"trigger":65536,"output":"calls.jsonl","include":["**/node_modules/yaml/**"]}'.
// Two entries start it: `--import memtrace/calls` (calls-register.ts, which awaits the start)
// and the `--require` preload `memtrace calls` puts on a node command line when nothing needs
// waiting for (calls-preload.ts): node then runs the main module as it does untraced.
import { fs } from '../core/node-fs.js';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LogWriter, defaultLogName, makeHeader } from '../core/log.js';
import { subscribeMarks } from './marks.js';
import { beforeSignalDeath, onProcess } from './process-events.js';
import { drainHookReports, instrumentCalls } from './calls-install.js';
import { closeRuntime, instrumentedFileCount, now, publisherRunning, pushSink, popSink, uninstrumented, type CallsSink } from './calls-runtime.js';
const { closeSync, openSync, writeFileSync } = fs;

/** Options read from the MEMTRACE_CALLS environment variable. */
export interface CallsEnvOptions {
  trigger?: number;
  output?: string;
  lines?: boolean;
  /** Events for calls into code that is not instrumented (`--native`). */
  native?: boolean;
  include?: string[];
  exclude?: string[];
  /** false: instrument only; traces are started with traceCalls(). */
  trace?: boolean;
  /**
   * Several processes may share the options (a tree under one command): the first to write an
   * event owns the log. A string is the file to claim (created with O_EXCL in a folder of the
   * memtrace command's own), where the owner also says at exit how many records the log holds
   * and, after a failed write, where it stops.
   */
  claim?: boolean | string;
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

/** The `--import` entry, and the `--require` preload as `memtrace calls` names them on a node command line. */
const IMPORT_ENTRY = new URL('./calls-register.js', import.meta.url).href;
const REQUIRE_ENTRY = fileURLToPath(new URL('./preload.cjs', import.meta.url));

/** True when `memtrace calls` put one of the entries among node's options (not in NODE_OPTIONS). */
function onCommandLine(): boolean {
  const argv = process.execArgv;
  return argv.includes(IMPORT_ENTRY) || argv.includes(`--import=${IMPORT_ENTRY}`) || argv.includes(REQUIRE_ENTRY) || argv.includes(`--require=${REQUIRE_ENTRY}`);
}

/**
 * When `memtrace calls` put its entry among node's options, takes it out of process.execArgv
 * and its options out of the environment: the program sees the execArgv and environment it has
 * untraced, and what it forks or spawns runs untraced, as it would.
 */
function hideFromProgram(): void {
  const argv = process.execArgv;
  for (const [flag, value] of [['--import', IMPORT_ENTRY], ['--require', REQUIRE_ENTRY]] as const) {
    const i = argv.indexOf(value);
    if (i > 0 && argv[i - 1] === flag) { argv.splice(i - 1, 2); delete process.env.MEMTRACE_CALLS; return; }
    const j = argv.indexOf(`${flag}=${value}`);
    if (j >= 0) { argv.splice(j, 1); delete process.env.MEMTRACE_CALLS; return; }
  }
}

/**
 * Loaders that node imports after this entry (a tsx CLI starts node with its loader on the
 * command line while this entry comes from NODE_OPTIONS, which node imports first) would wrap
 * our hooks and hand them TypeScript. Importing them now, before our hooks are registered, puts
 * ours outside theirs: we see the JavaScript they make. Node imports each again later and gets
 * the same evaluated module (same URL), so nothing runs twice. Only file URLs and absolute
 * paths (what such CLIs pass) are taken: a bare or relative specifier would resolve from here.
 */
async function importLaterLoaders(): Promise<void> {
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const spec = a === '--import' ? argv[++i] : a.startsWith('--import=') ? a.slice('--import='.length) : undefined;
    if (!spec || spec === IMPORT_ENTRY) continue;
    const url = spec.startsWith('file:') ? spec : spec.startsWith('/') ? pathToFileURL(spec).href : undefined;
    // This entry named by its path: importing it here would wait on itself.
    if (url && url !== IMPORT_ENTRY) { try { await import(url); } catch { /* node reports it when it imports it */ } }
  }
}

/**
 * Starts calls from MEMTRACE_CALLS, synchronously when nothing needs waiting for; else returns
 * the promise to await before the program's first line (loaders to import first, or a publisher
 * thread that is not running yet: the program's start-up is not charged to it).
 */
export function startCalls(): Promise<void> | void {
  const opts = readOptions();
  // Came from NODE_OPTIONS (not among node's options): loaders on the command line come after.
  if (!onCommandLine()) return importLaterLoaders().then(() => begin(opts));
  return begin(opts);
}

function begin(opts: CallsEnvOptions): Promise<void> | void {
  hideFromProgram();
  // Exact exits of async functions and generators only where the trace writes every event.
  const exactThrows = opts.trigger === 0;
  const ready = instrumentCalls({ include: opts.include, exclude: opts.exclude, lines: opts.lines, native: opts.native, exactThrows });
  if (opts.trace === false) return;
  if (publisherRunning()) trace(opts);
  else return ready.then(() => trace(opts));
}

function trace(opts: CallsEnvOptions): void {
  const trigger = typeof opts.trigger === 'number' && opts.trigger >= 0 ? opts.trigger : 4096;
  const output = opts.output ?? defaultLogName('calls', process.pid);
  const start = now();
  let writer: LogWriter | undefined;
  let refused = false;
  const open = (): LogWriter | undefined => {
    if (writer || refused) return writer;
    if (opts.claim) {
      // The first process of the tree to write owns the log; the others stay silent.
      try { closeSync(openSync(typeof opts.claim === 'string' ? opts.claim : output, 'wx')); } catch { refused = true; popSink(sink); return undefined; }
    }
    try {
      writer = new LogWriter(output, makeHeader('calls', {
        pid: process.pid, command: process.argv.slice(), trigger, lines: !!opts.lines, native: !!opts.native,
        include: opts.include ?? [], exclude: opts.exclude ?? [], start: new Date(start).toISOString(),
      }), 1000, { onError: () => tellClaim() });
    } catch (err) {
      refused = true;
      popSink(sink);
      process.stderr.write(`memtrace: ${(err as Error).message}\n`);
    }
    return writer;
  };
  const tellClaim = () => {
    if (typeof opts.claim !== 'string' || !writer) return;
    try { writeFileSync(opts.claim, JSON.stringify({ records: writer.stop.records, incomplete: writer.incomplete() })); } catch { /* the command says what it can */ }
  };
  const sink: CallsSink = {
    trigger,
    start,
    lastRss: 0,
    write(record) { open()?.write(record); },
    // At exit: only where instrumented code ran (node's own start-up is no move of the program's).
    endEvent: () => instrumentedFileCount() > 0,
  };
  // A mark arrives synchronously: timed on arrival by the trace's clock (the mark's own time is
  // read from node's `performance`, ~1 ms off it).
  subscribeMarks((label) => sink.write({ t: Math.round((now() - start) * 1000) / 1000, mark: label }));
  pushSink(sink);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    popSink(sink);
    closeRuntime();
    drainHookReports();
    // Files that ran without probes are said, so that no event is not read as "nothing ran".
    if (uninstrumented.length > 0 || writer) {
      const files = [...new Map(uninstrumented.map((u) => [u.file, u])).values()];
      const record = { t: Math.round((now() - start) * 1000) / 1000, end: { instrumented_files: instrumentedFileCount(), uninstrumented: files } };
      if (uninstrumented.length > 0 && !refused) open();
      writer?.write(record);
    }
    if (!writer && !opts.claim && !refused) open();
    // Nothing written: the command still learns that this process ran the probes, and how many
    // instrumented files it ran (none: no file in scope ran, the likely surprise).
    if (!writer && typeof opts.claim === 'string') {
      try { writeFileSync(`${opts.claim}.${process.pid}`, JSON.stringify({ instrumented_files: instrumentedFileCount() })); } catch { /* the command says what it can */ }
    }
    if (writer) {
      writer.close();
      tellClaim();
      if (!opts.quiet) process.stderr.write(`memtrace: calls log written to ${output} (${writer.count} records)\n`);
    }
  };
  onProcess('exit', close);
  // A signal that ends the program skips 'exit': the events still buffered are written first.
  beforeSignalDeath(close);
}

