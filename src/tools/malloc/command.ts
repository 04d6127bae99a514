import type { Command } from 'commander';
import { parseBytes, formatBytes } from '../../core/units.js';
import { UsageError } from '../../core/errors.js';
import { MAX_MIN_SIZE, shownPath, traceMalloc } from './index.js';
import { helpExamples } from '../../core/help.js';
import { parseView, viewOptions } from './report.js';

/** A --top value: a whole number from 1 to 100 000. */
function parseTop(text: string): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 100_000)) throw new UsageError(`--top: '${text}' must be a whole number from 1 to 100000`);
  return n;
}

/** Adds `memtrace malloc [options] -- command…` to the CLI. */
export function register(program: Command): void {
  const cmd = program
    .command('malloc')
    .addHelpText('after', helpExamples([
      ['memtrace malloc -- ./server', 'every malloc/free of any program'],
      ['memtrace malloc --stacks -o m.bin -- node app.js', 'with stacks naming JS functions'],
      ['memtrace malloc --count-only -- make', 'totals only, a whole build'],
      ['memtrace malloc --stacks --aggregate -- node server.js', 'a long-running service: live memory by JS function, no event log'],
      ['memtrace report m.bin --format html', 'live heap chart and call sites'],
    ]))
    .description('every malloc/free of any program (LD_PRELOAD interposer), optionally with stacks naming JS functions')
    .usage('[options] -- <command...>')
    .argument('[command...]', 'the program to run, after --')
    .option('--stacks', 'record a stack per event (node: JIT frames named through --perf-basic-prof)')
    .option('--min-size <size>', 'drop events of smaller blocks, e.g. 4k (totals still count every call)')
    .option('--count-only', 'keep per-function totals and the size histogram only (cheapest)')
    .option('--aggregate', 'write no events: keep per-site counters, the live blocks and the peak in the program (a trace of kilobytes, for long runs)')
    .option('--no-follow', 'do not trace programs the command forks or execs')
    .option('--mmap', 'also record anonymous mmap/munmap')
    .option('-o, --output <file>', 'trace file (default memtrace-malloc-DATE-TIME-PID.bin here; other processes write FILE.PID)')
    .option('--top <n>', 'rows in top-N tables', '10');
  for (const o of viewOptions()) cmd.addOption(o);
  cmd
    .passThroughOptions()
    .action(async (command: string[], opts: { stacks?: boolean; minSize?: string; countOnly?: boolean; aggregate?: boolean; follow: boolean; mmap?: boolean; output?: string; top: string; by?: string; startup?: boolean; since?: string; until?: string }) => {
      const minSize = opts.minSize !== undefined ? parseBytes(opts.minSize, '--min-size', { max: MAX_MIN_SIZE }) : undefined;
      const top = parseTop(opts.top);
      const result = await traceMalloc(command, {
        stacks: opts.stacks, minSize, countOnly: opts.countOnly, aggregate: opts.aggregate, follow: opts.follow, mmap: opts.mmap,
        output: opts.output, top, ...parseView(opts),
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
