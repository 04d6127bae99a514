import { Command, Option } from 'commander';
import { UsageError } from '../core/errors.js';
import { FORMATS, buildReport, defaultOutput, writeReport, type Format } from './index.js';
import { helpExamples } from '../core/help.js';
// malloc's view (--by, --since, --until, --startup) is parsed and applied by the malloc tool's report module
import { viewOptions } from '../tools/malloc/report.js';

/** Adds `memtrace report LOG [--format …] [--output PATH] [malloc's view]` to the CLI. */
export function register(program: Command): void {
  const toolOptions = viewOptions();
  const cmd = program
    .command('report')
    .addHelpText('after', `
Formats (every log is one of process, calls, malloc, heap, spaces):
  text        every log: the summary the tool printed at exit
  json        every log: the summary as one JSON object
  html        every log: one page with the charts and tables, opens offline
  csv         every log: one row per sample (process, spaces), event (calls), call site
              (heap; malloc with --stacks) or live-bytes point (malloc)
  gnuplot     logs with a time series (process, spaces, calls, malloc): LOG.dat and LOG.plt
              (needs -o NAME.dat or the default, not stdout); heap logs have no time series
  speedscope  heap logs, malloc traces with --stacks: allocation stacks for https://www.speedscope.app

Malloc traces only: --by, --since, --until and --startup mean what they mean to
memtrace malloc, in every format (other logs refuse them).`)
    .addHelpText('after', helpExamples([
      ['memtrace report memtrace-process-20261124-100000-4242.jsonl', 'the summary as text'],
      ['memtrace report app.jsonl --format html', 'writes app.html beside the log'],
      ['memtrace report app.jsonl --format csv -o - | head', 'CSV on stdout'],
      ['memtrace report heap.jsonl --format speedscope', 'heap stacks for speedscope.app'],
      ['memtrace report m.bin --by js --since start --until end', 'malloc: what the JS functions allocated between two marks and kept'],
    ]))
    .description('turn any memtrace log into HTML, gnuplot, CSV, text or a JSON summary (heap logs and malloc traces with stacks also: speedscope)')
    .argument('<log>', 'a log written by any memtrace tool')
    .addOption(new Option('-f, --format <format>', 'output format (see "Formats" below)').choices([...FORMATS]).default('text'))
    .option('-o, --output <path>', 'where to write; "-" is stdout (default: text and json to stdout, the others beside the log: LOG.html, LOG.csv, LOG.dat + LOG.plt, LOG.speedscope.json)')
    .option('--top <n>', 'rows in top-N tables', '20');
  for (const o of toolOptions) cmd.addOption(o);
  cmd
    .action(async (log: string, opts: { format: Format; output?: string; top: string; [tool: string]: unknown }) => {
      const top = Number(opts.top);
      if (!Number.isInteger(top) || top <= 0) throw new UsageError(`--top: '${opts.top}' must be a whole number above zero`);
      // the tool options typed, by long name: the log's tool must take each
      const given = toolOptions.filter((o) => cmd.getOptionValueSource(o.attributeName()) === 'cli').map((o) => o.long!);
      const asked = Object.fromEntries(toolOptions.map((o) => [o.attributeName(), opts[o.attributeName()]]).filter(([, v]) => v !== undefined));
      const report = await buildReport(log, { top, ...asked }, given);
      for (const w of report.warnings) process.stderr.write(`memtrace: warning: ${w}\n`);
      const output = opts.output ?? defaultOutput(log, opts.format);
      const written = writeReport(report, opts.format, output);
      for (const p of written) process.stderr.write(`memtrace: wrote ${p}\n`);
    });
}
