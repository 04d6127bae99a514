import { Command, Option } from 'commander';
import { UsageError } from '../core/errors.js';
import { FORMATS, buildReport, defaultOutput, writeReport, type Format } from './index.js';

/** Adds `memtrace report LOG [--format …] [--output PATH]` to the CLI. */
export function register(program: Command): void {
  program
    .command('report')
    .description('turn any memtrace log into HTML, gnuplot, CSV, text or a JSON summary (heap logs also: speedscope)')
    .argument('<log>', 'a log written by any memtrace tool')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...FORMATS]).default('text'))
    .option('-o, --output <path>', 'where to write (html/csv/gnuplot/speedscope default: beside the log; text/json: stdout; "-" for stdout)')
    .option('--top <n>', 'rows in top-N tables', '20')
    .action(async (log: string, opts: { format: Format; output?: string; top: string }) => {
      const top = Number(opts.top);
      if (!Number.isInteger(top) || top <= 0) throw new UsageError(`--top: '${opts.top}' must be a whole number above zero`);
      const report = await buildReport(log, { top });
      for (const w of report.warnings) process.stderr.write(`memtrace: warning: ${w}\n`);
      const output = opts.output ?? defaultOutput(log, opts.format);
      const written = writeReport(report, opts.format, output);
      for (const p of written) process.stderr.write(`memtrace: wrote ${p}\n`);
    });
}
