import { Option, type Command } from 'commander';
import { parseBytes, parseDuration, formatBytes } from '../../core/units.js';
import { UsageError } from '../../core/errors.js';
import { MAX_MIN_SIZE, shownPath, traceMalloc } from './index.js';
import { helpExamples } from '../../core/help.js';
import { GROUP_BY, type GroupBy } from './report.js';

/** A --since/--until value: a time ("2s", "1500ms") since the start, else a mark's label. */
function tracePoint(text: string, what: string): number | string {
  if (/^\s*(\d+(\.\d+)?|\.\d+)\s*[a-zA-Zµ]*\s*$/.test(text)) {
    try { return parseDuration(text, what); } catch { /* not a duration: a label */ }
  }
  if (!text) throw new UsageError(`${what}: give a mark's label or a time since the start, e.g. 2s`);
  return text;
}

/** A --top value: a whole number from 1 to 100 000. */
function parseTop(text: string): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 100_000)) throw new UsageError(`--top: '${text}' must be a whole number from 1 to 100000`);
  return n;
}

/** Adds `memtrace malloc [options] -- command…` to the CLI. */
export function register(program: Command): void {
  program
    .command('malloc')
    .addHelpText('after', helpExamples([
      ['memtrace malloc -- ./server', 'every malloc/free of any program'],
      ['memtrace malloc --stacks -o m.bin -- node app.js', 'with stacks naming JS functions'],
      ['memtrace malloc --count-only -- make', 'totals only, a whole build'],
      ['memtrace report m.bin --format html', 'live heap chart and call sites'],
    ]))
    .description('every malloc/free of any program (LD_PRELOAD interposer), optionally with stacks naming JS functions')
    .usage('[options] -- <command...>')
    .argument('[command...]', 'the program to run, after --')
    .option('--stacks', 'record a stack per event (node: JIT frames named through --perf-basic-prof)')
    .option('--min-size <size>', 'drop events of smaller blocks, e.g. 4k (totals still count every call)')
    .option('--count-only', 'keep per-function totals and the size histogram only (cheapest)')
    .option('--no-follow', 'do not trace programs the command forks or execs')
    .option('--mmap', 'also record anonymous mmap/munmap')
    .option('-o, --output <file>', 'trace file (default memtrace-malloc-DATE-TIME-PID.bin here; other processes write FILE.PID)')
    .option('--top <n>', 'rows in top-N tables', '10')
    .addOption(new Option('--by <view>', 'group call sites by the innermost JS function of the program (node), the native function that allocated, or the whole stack (default: js when stacks name JS functions, else stack)').choices([...GROUP_BY]))
    .option('--since <mark|time>', 'live columns: blocks allocated from this mark (memtrace/mark) or time since the start (2s)…')
    .option('--until <mark|time>', '…and still live at this mark or time (default: where a node program began to exit, else its end)')
    .option('--startup', 'keep start-up (what node allocates before the main module runs) in the top tables')
    .passThroughOptions()
    .action(async (command: string[], opts: { stacks?: boolean; minSize?: string; countOnly?: boolean; follow: boolean; mmap?: boolean; output?: string; top: string; by?: GroupBy; startup?: boolean; since?: string; until?: string }) => {
      const minSize = opts.minSize !== undefined ? parseBytes(opts.minSize, '--min-size', { max: MAX_MIN_SIZE }) : undefined;
      const top = parseTop(opts.top);
      const result = await traceMalloc(command, {
        stacks: opts.stacks, minSize, countOnly: opts.countOnly, follow: opts.follow, mmap: opts.mmap,
        output: opts.output, top, by: opts.by, startup: opts.startup,
        since: opts.since !== undefined ? tracePoint(opts.since, '--since') : undefined,
        until: opts.until !== undefined ? tracePoint(opts.until, '--until') : undefined,
      });
      const err = process.stderr;
      if (result.report) {
        err.write(`\n${result.report.text}\n`);
        for (const w of result.report.warnings) err.write(`memtrace: warning: ${w}\n`);
      }
      for (const w of result.warnings) err.write(`memtrace: warning: ${w}\n`);
      if (result.others.length) {
        err.write(`\n  other processes traced (${result.others.length}):\n`);
        for (const o of result.others.slice(0, 8)) {
          const h = o.analysis.header;
          err.write(`    pid ${h.pid} ${(h.command as string[]).join(' ').slice(0, 60)}: ${Number(h.allocations).toLocaleString('en-US')} allocations, ${formatBytes(Number(h.bytesAllocated))} → ${shownPath(o.log)}\n`);
        }
        if (result.others.length > 8) err.write(`    … and ${result.others.length - 8} more\n`);
      }
      if (result.log) err.write(`memtrace: trace written to ${shownPath(result.log)} (memtrace report ${shownPath(result.log)} --format html)\n`);
      process.exitCode = result.exit.exitCode;
    });
}
