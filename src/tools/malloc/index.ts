// `traceMalloc`: runs a command with the LD_PRELOAD interposer (native/memtrace_malloc.c) and
// reads its trace back. An interposer must be loaded when a program starts, so there is no
// in-process "wrap this block" form: the unit of tracing is a command.
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, fileError, noCommandError } from '../../core/errors.js';
import { checkOutput, checkOutputDir } from '../../core/output.js';
import { defaultLogName } from '../../core/log.js';
import { randomBytesSync } from '../../core/fsutil.js';
import { REQUIRE_ENTRY } from '../../core/channel-host.js';
import { spawnTraced, withNodeRequire, type ChildExit } from '../../core/spawn.js';
import type { Report } from '../../report/types.js';
import { FLAGS, MAGIC, MallocTraceReader, readMallocLog, type MallocAnalysis, type TracePoint } from './format.js';
import { buildReport, checkView, parseView, toLogContents, type GroupBy } from './report.js';

export { readMallocLog, type MallocAnalysis, type TracePoint } from './format.js';

/** Options of {@link traceMalloc}. */
export interface MallocOptions {
  /** Record a stack per event (frame-pointer walk; node JIT frames named from --perf-basic-prof). */
  stacks?: boolean;
  /** Drop events of blocks smaller than this many bytes (totals still count every call). */
  minSize?: number;
  /** Keep per-function totals and the size histogram only, no events. */
  countOnly?: boolean;
  /** Trace programs the command execs and forks (default true). */
  follow?: boolean;
  /** Also record anonymous mmap/munmap. */
  mmap?: boolean;
  /** Write no events: the interposer keeps per-site counters, the live blocks and the peak (a trace of kilobytes for hours of running). */
  aggregate?: boolean;
  /** Trace file of the first process (default memtrace-malloc-DATE-PID.bin in the cwd); others write FILE.PID. */
  output?: string;
  /** Environment of the command (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Rows in top-N tables of the report. */
  top?: number;
  /** How the report groups call sites: by the innermost JS function, the allocating native function, or the whole stack. */
  by?: GroupBy;
  /** Keep start-up (before the main module ran) in the top tables. */
  startup?: boolean;
  /** Live columns: blocks allocated from this mark (label) or time (ms since start)… */
  since?: TracePoint;
  /** …and still live at this mark or time (default: where node began to exit, else the end). */
  until?: TracePoint;
}

/** What {@link traceMalloc} returns. */
export interface MallocResult {
  exit: ChildExit;
  /** The first process's trace file, undefined when the interposer never ran (static binary, setuid, cleared LD_PRELOAD). */
  log?: string;
  /** Trace files of other processes (forked or spawned children), with their analyses. */
  others: Array<{ log: string; analysis: MallocAnalysis }>;
  analysis?: MallocAnalysis;
  report?: Report;
  warnings: string[];
}

/** The largest --min-size (1 PiB: more than any block; the interposer reads a u64). */
export const MAX_MIN_SIZE = 2 ** 50;

const here = dirname(fileURLToPath(import.meta.url));

const nativeDir = resolve(here, '..', '..', '..', 'native');

/** Where the built interposer is expected (native/build/libmemtrace-malloc.so). */
export function interposerPath(): string {
  return join(nativeDir, 'build', 'libmemtrace-malloc.so');
}

/**
 * Throws a one-line UsageError when the interposer was not built, with the reason the build
 * at install wrote (native/build/NOT-BUILT.txt: no compiler, or the compiler's first error).
 */
export function requireInterposer(): string {
  const so = interposerPath();
  if (existsSync(so)) return so;
  let reason: string | undefined;
  try { reason = readFileSync(join(nativeDir, 'build', 'NOT-BUILT.txt'), 'utf8').trim().split('\n')[0]; } catch { /* no build ran */ }
  const rebuild = `node ${join(nativeDir, 'build.js')}`;
  if (reason) throw new UsageError(`the malloc interposer was not built at install: ${reason}; once fixed, run \`${rebuild}\``);
  throw new UsageError(`the malloc interposer is not built (${so} is missing: the install scripts did not run, e.g. --ignore-scripts); run \`${rebuild}\``);
}

function findOnPath(cmd: string, env: NodeJS.ProcessEnv): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const p = join(dir || '.', cmd);
    try { if (statSync(p).isFile()) return p; } catch { /* next */ }
  }
  return undefined;
}

/** True when `path` is an ELF executable without a program interpreter (statically linked). */
export function isStaticElf(path: string): boolean {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch { return false; }
  try {
    const eh = Buffer.alloc(64);
    if (readSync(fd, eh, 0, 64, 0) < 64 || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2) return false;
    const phoff = Number(eh.readBigUInt64LE(32));
    const phentsize = eh.readUInt16LE(54), phnum = eh.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    let dynamic = false;
    for (let i = 0; i < phnum; i++) {
      const type = ph.readUInt32LE(i * phentsize);
      if (type === 3 /* PT_INTERP */ || type === 2 /* PT_DYNAMIC */) dynamic = true;
    }
    return !dynamic;
  } finally {
    closeSync(fd);
  }
}

function runIdOf(path: string): bigint | undefined {
  try {
    const fd = openSync(path, 'r');
    try {
      const b = Buffer.alloc(48);
      if (readSync(fd, b, 0, 48, 0) < 48 || b.toString('latin1', 0, 8) !== MAGIC) return undefined;
      return b.readBigUInt64LE(40);
    } finally { closeSync(fd); }
  } catch { return undefined; }
}

/**
 * Runs `command` under the malloc interposer and returns its analysis and report. The traced
 * program's stdio and exit status pass through; a static binary is refused (LD_PRELOAD cannot
 * reach it). Needs the interposer built at install (see {@link interposerPath}).
 */
export async function traceMalloc(command: string[], options: MallocOptions = {}): Promise<MallocResult> {
  const so = requireInterposer();
  if (command.length === 0) throw noCommandError('malloc');
  const baseEnv = options.env ?? process.env;
  const exe = findOnPath(command[0]!, baseEnv);
  if (!exe) throw new UsageError(`command not found: ${command[0]}`);
  if (isStaticElf(exe)) throw new UsageError(`${command[0]} is statically linked: LD_PRELOAD cannot reach its malloc, so there is nothing to trace`);
  if (options.minSize !== undefined && !(options.minSize >= 0 && options.minSize <= MAX_MIN_SIZE)) throw new UsageError(`--min-size: must be a size from 0 to 1 PiB`);
  // the view as memtrace report reads it ("2s" is a time there, here too), refused before the run when it cannot be given
  const view = parseView({ by: options.by, startup: options.startup, since: options.since, until: options.until });
  checkView(view, options.countOnly ? 'count' : options.stacks ? 'stacks' : 'record');
  if (options.aggregate && options.countOnly) throw new UsageError('--aggregate and --count-only: choose one (--count-only keeps totals only, --aggregate adds the live blocks and the peak)');
  if (options.aggregate && (view.since !== undefined || view.until !== undefined)) throw new UsageError(`${view.since !== undefined ? '--since' : '--until'} needs events: --aggregate keeps none (only the live blocks at the exit and at the peak)`);
  options = { ...options, ...view };

  // Checked before the run, created or changed in nothing: the interposer reads its file back.
  const target = options.output !== undefined
    ? checkOutput(options.output, { what: 'write trace', regularOnly: 'a malloc trace is a file per process, read back after the run' })
    : (checkOutputDir(process.cwd(), 'write a trace in'), undefined);
  const output = resolve(options.output ?? defaultLogName('malloc', process.pid, 'bin'));
  // An existing file is emptied in place (what a symlink points to, same inode): the interposer appends.
  if (target?.kind === 'file') {
    try { truncateSync(output); } catch (err) { throw fileError(err, 'write trace', output); }
  }

  const runId = randomBytesSync(6).readUIntBE(0, 6);
  const flags = (options.stacks ? FLAGS.stacks : 0) | (options.countOnly ? FLAGS.countOnly : 0)
    | (options.follow === false ? FLAGS.noFollow : 0) | (options.mmap ? FLAGS.mmap : 0) | (options.aggregate ? FLAGS.aggregate : 0);
  // node's perf map (and node 20's isolate-*-v8.log) go to a private directory, never to a
  // predictable /tmp name or the user's folder; it is removed when the run ends
  const privateDir = mkdtempSync(join(tmpdir(), 'memtrace-malloc-'));
  const removePrivate = () => rmSync(privateDir, { recursive: true, force: true });
  process.once('exit', removePrivate);
  try {
    return await run(command, options, { so, output, runId, flags, privateDir, baseEnv });
  } finally {
    removePrivate();
    process.off('exit', removePrivate);
  }
}

/** How often the trace is read while the program runs, and for how long at most in one go (the event loop forwards signals meanwhile). */
const POLL_MS = 20, POLL_BUDGET_MS = 30;

/** True when the command or NODE_OPTIONS asks V8 for a log of its own (--prof, --log…, --logfile). */
const wantsV8Log = (command: string[], nodeOpts: string) => [...command, ...nodeOpts.split(/\s+/)].some((a) => /^--(prof|log|logfile|log-[\w-]+)(=|$)/.test(a));

async function run(command: string[], options: MallocOptions, o: { so: string; output: string; runId: number; flags: number; privateDir: string; baseEnv: NodeJS.ProcessEnv }): Promise<MallocResult> {
  const { so, output, runId, flags, privateDir, baseEnv } = o;
  // a node program loads the preload that marks where start-up ends and passes mark()s on, when
  // they are used: stacks (start-up apart, live at exit) or a window. Not otherwise: loading it
  // (node's ESM loader) adds some thousand allocations of its own to the program's.
  const marks = !options.countOnly && (!!options.stacks || options.since !== undefined || options.until !== undefined);
  // With --require (not --import), node runs the main module as untraced (see preload.cts).
  const env: NodeJS.ProcessEnv = marks ? withNodeRequire(baseEnv, REQUIRE_ENTRY) : { ...baseEnv };
  Object.assign(env, {
    LD_PRELOAD: [so, baseEnv.LD_PRELOAD].filter(Boolean).join(':'),
    MEMTRACE_MALLOC_OUT: output,
    MEMTRACE_MALLOC_FLAGS: String(flags),
    MEMTRACE_MALLOC_MIN: String(Math.floor(options.minSize ?? 0)),
    MEMTRACE_MALLOC_RUN: String(runId),
    MEMTRACE_MALLOC_DIR: privateDir,
  });
  const nodeOpts = baseEnv.NODE_OPTIONS ?? '';
  const addedPerfMap = !!options.stacks && !options.countOnly && !/--perf-basic-prof|--perf-prof/.test(nodeOpts);
  // CPython ≥ 3.12 writes the same perf map for its Python frames (older ones ignore this)
  if (options.stacks && !options.countOnly && baseEnv.PYTHONPERFSUPPORT === undefined) {
    env.PYTHONPERFSUPPORT = '1';
    env.MEMTRACE_MALLOC_PERFMAP = '1';
  }
  if (addedPerfMap) {
    // the map memtrace asks for is memtrace's: opened in the private directory (a map the user
    // asked for stays where node puts it, and is read from there). Interpreted frames get
    // names (a trampoline copy per function) so that the JS view names the function that
    // allocated even before V8 compiles it, unless only native frames are wanted.
    const interp = options.by === 'native' ? '' : ' --interpreted-frames-native-stack';
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --perf-basic-prof${interp}`.trim();
    env.MEMTRACE_MALLOC_PERFMAP = '1';
    if (!wantsV8Log(command, nodeOpts)) env.MEMTRACE_MALLOC_V8LOG = '1';
  }

  const traced = await spawnTraced(command, { env });
  // The trace is read while the program writes it (one core of two mostly idle then): at its
  // exit only the rest is left (MallocTraceReader.poll: with a window, symbols only).
  const reader = new MallocTraceReader(output, { saveSymbols: true, perfDir: privateDir, since: options.since, until: options.until });
  let polling = true;
  let timer: NodeJS.Timeout | undefined;
  const poll = () => {
    if (!polling) return;
    let caughtUp = true;
    try { caughtUp = reader.poll(POLL_BUDGET_MS); } catch { polling = false; return; } // the final read says what is wrong
    timer = setTimeout(poll, caughtUp ? POLL_MS : 0);
  };
  timer = setTimeout(poll, POLL_MS);
  const exit = await traced.exited;
  polling = false;
  clearTimeout(timer);

  const warnings: string[] = [];
  const dir = dirname(output), base = basename(output);
  const siblings = readdirSync(dir)
    .filter((f) => f.startsWith(`${base}.`) && /^\d+$/.test(f.slice(base.length + 1)))
    .map((f) => join(dir, f))
    .filter((f) => runIdOf(f) === BigInt(runId));
  const others: MallocResult['others'] = [];
  for (const f of siblings) {
    try {
      const analysis = readMallocLog(f, { saveSymbols: true, perfDir: privateDir });
      others.push({ log: f, analysis });
    } catch (err) {
      warnings.push(`${f}: ${(err as Error).message}`);
    }
  }
  let analysis: MallocAnalysis | undefined;
  let report: Report | undefined;
  const written = runIdOf(output) === BigInt(runId);
  if (written) {
    try {
      analysis = reader.finish();
      report = buildReport(toLogContents(analysis), { top: options.top ?? 10, by: options.by, startup: options.startup });
      report.warnings = [...analysis.warnings, ...report.warnings];
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      warnings.push(err.message); // the program's exit status stands
    }
  } else {
    reader.close();
    warnings.push(`the interposer was not loaded into ${command[0]} (setuid, or it clears LD_PRELOAD): nothing was traced`);
  }
  others.sort((a, b) => Number(b.analysis.header.events) - Number(a.analysis.header.events));
  return { exit, log: written ? output : undefined, others, analysis, report, warnings };
}

/** Absolute or not, the path as a user typed it reads best in messages. */
export function shownPath(path: string): string {
  return isAbsolute(path) && path.startsWith(process.cwd() + '/') ? path.slice(process.cwd().length + 1) : path;
}
