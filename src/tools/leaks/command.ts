// `memtrace leaks`: runs a program (or a scenario) for warm-up + measured iterations, compares
// heap snapshots taken at their boundaries, and says what leaks, how fast, who holds it and
// where it was allocated. `--snapshots a b c` compares snapshot files from anywhere.
import { rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import { checkOutput, checkOutputDir } from '../../core/output.js';
import { helpExamples } from '../../core/help.js';
import { LogWriter, defaultLogName, makeHeader, readLog } from '../../core/log.js';
import { formatBytes, parseInterval } from '../../core/units.js';
import { analyzeSnapshots } from './analyze.js';
import type { LeakAnalysis } from './detect.js';
import { parseHttpTarget } from './http-load.js';
import { buildReport } from './report.js';
import { runMeasured, type Driver } from './run.js';

const SCENARIO_RUNNER = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), 'runtime', 'leaks-scenario.js');

interface LeaksCommandOptions {
  http?: string;
  requests: string;
  concurrency: string;
  every?: string;
  scenario?: string;
  snapshots?: string[];
  warmup: string;
  iterations: string;
  label: string;
  timeout: string;
  check?: boolean;
  format: 'text' | 'json';
  output?: string;
  sourceMaps: boolean;
}

function sizeOf(p: string): number {
  try { return statSync(p).size; } catch { return 0; }
}

/** Parses a whole number option with a minimum. */
export function parseCount(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${what}: '${text}' must be a whole number of at least ${min}`);
  return n;
}

/** Adds `memtrace leaks` to the CLI. */
export function register(program: Command): void {
  program
    .command('leaks')
    .description('what leaks, how fast, who holds it and where it was allocated: heap snapshots compared across iterations of a program, a scenario, or snapshot files')
    .argument('[command...]', 'the program to run, after -- (it marks each iteration with mark(\'iteration\') from memtrace/mark, unless --http or --every drive them)')
    .option('--http <url>', 'drive iterations with HTTP requests to the program\'s own server, once it listens (loopback only; {n} in the URL becomes the request number)')
    .option('--requests <n>', 'requests per iteration with --http', '100')
    .option('--concurrency <c>', 'requests in flight at once with --http', '10')
    .option('--every <duration>', 'an iteration every DURATION, for a program that works on its own (e.g. 10s)')
    .option('--scenario <file>', 'a module exporting setup(), iteration() and teardown(): memtrace runs it in a node process of its own')
    .option('--snapshots <files...>', 'compare heap snapshot files of one process, oldest first (the three-snapshot technique)')
    .option('-w, --warmup <n>', 'iterations before measuring (caches fill, code warms up)', '3')
    .option('-n, --iterations <n>', 'measured iterations', '5')
    .option('--label <mark>', 'the mark that ends an iteration', 'iteration')
    .option('--timeout <duration>', 'give up when no iteration mark comes (or nothing listens, with --http) for this long', '30s')
    .option('--check', 'exit 1 when a leak was found, 0 when none (2 on usage errors), instead of the program\'s exit code')
    .addOption(new Option('--format <format>', 'the verdict on stdout as text or JSON (text also goes to stderr)').choices(['text', 'json']).default('text'))
    .option('--no-source-maps', 'report positions in the generated .js files')
    .option('-o, --output <file>', 'the log (default memtrace-leaks-DATE-TIME-PID.jsonl here)')
    .addHelpText('after', helpExamples([
      ['memtrace leaks -- node job.js', "the program calls mark('iteration') after each one"],
      ["memtrace leaks --http 'http://127.0.0.1:3000/?id={n}' -- node server.js", '100 requests an iteration, loopback only'],
      ['memtrace leaks --check --scenario scenario.js', 'CI: exit 1 on a leak, 0 without'],
      ['memtrace leaks --snapshots a.heapsnapshot b.heapsnapshot c.heapsnapshot', 'snapshots from anywhere'],
      ['memtrace report memtrace-leaks-….jsonl --format html', 'growth and retainer path of each leak'],
    ]))
    .passThroughOptions()
    .action(async (command: string[], opts: LeaksCommandOptions) => {
      const warmup = parseCount(opts.warmup, '--warmup', 0);
      const iterations = parseCount(opts.iterations, '--iterations', 2);
      const sources = [command.length > 0, !!opts.scenario, !!opts.snapshots].filter(Boolean).length;
      if (sources === 0) throw new UsageError('nothing to measure: give a program after --, --scenario FILE, or --snapshots A B C');
      if (sources > 1) throw new UsageError('give one of: a program after --, --scenario FILE, --snapshots FILES');
      if (opts.http && opts.every) throw new UsageError('--http and --every both drive iterations: give one');
      if ((opts.http || opts.every) && !command.length) throw new UsageError(`${opts.http ? '--http' : '--every'} drives a program: give it after --`);
      const logPath = resolve(opts.output ?? defaultLogName('leaks', process.pid));
      // Checked before the run, changed in nothing: a device or FIFO is written, never truncated or read back.
      if (opts.output !== undefined) checkOutput(opts.output);
      else checkOutputDir(process.cwd());

      if (opts.snapshots) {
        if (opts.snapshots.length < 2) throw new UsageError('--snapshots needs at least two files of one process, oldest first (three for the three-snapshot technique)');
        const files = opts.snapshots.map((f) => resolve(f));
        const analysis = await analyzeSnapshots(files, {
          sourceMaps: opts.sourceMaps, cwd: process.cwd(),
          progress: (k, p) => { const bytes = sizeOf(p); if (bytes > 50 * 1048576) process.stderr.write(`memtrace: reading ${p} (${formatBytes(bytes)}), ${k + 1} of ${files.length}\n`); },
        });
        const writer = new LogWriter(logPath, makeHeader('leaks', { pid: process.pid, command: ['--snapshots', ...files], warmup: 0, iterations: files.length - 1, driver: 'snapshots' }), 0, { keep: true });
        writer.write({ t: 0, ev: 'analysis', analysis });
        writer.close();
        await finish(logPath, writer, analysis, opts, 0);
        return;
      }

      const timeoutMs = parseInterval(opts.timeout, '--timeout');
      let driver: Driver;
      if (opts.http) driver = { kind: 'http', target: parseHttpTarget(opts.http), requests: parseCount(opts.requests, '--requests', 1), concurrency: parseCount(opts.concurrency, '--concurrency', 1), timeoutMs };
      else if (opts.every) driver = { kind: 'every', ms: parseInterval(opts.every, '--every') };
      else driver = { kind: 'marks', label: opts.scenario ? 'iteration' : opts.label, timeoutMs };
      const argv = opts.scenario ? [process.execPath, SCENARIO_RUNNER, resolve(opts.scenario), String(warmup + iterations)] : command;
      const t0 = Date.now();
      const header = makeHeader('leaks', { pid: process.pid, command: opts.scenario ? ['--scenario', resolve(opts.scenario)] : command, warmup, iterations, driver: driver.kind });
      const writer = new LogWriter(logPath, header, 1000, { keep: true });
      const say = (line: string) => process.stderr.write(`memtrace: ${line}\n`);
      const outcome = await runMeasured({
        command: argv, warmup, iterations, driver, say,
        record: (rec) => {
          const epoch = typeof rec.epoch === 'number' ? rec.epoch : Date.now();
          if (rec.ev === 'done') return;
          writer.write({ t: epoch - t0, ...rec });
        },
      });
      const snaps = outcome.boundaries.filter((b) => b.snapshot);
      let analysis: LeakAnalysis | undefined;
      try {
        if (snaps.length >= 3 || (!outcome.incomplete && snaps.length >= 2)) {
          say(`comparing ${snaps.length} heap snapshots…`);
          analysis = await analyzeSnapshots(snaps.map((b) => b.snapshot!), { positions: snaps.map((b) => b.k), inlineMaps: outcome.inlineMaps, sourceMaps: opts.sourceMaps, cwd: process.cwd() });
          writer.write({ t: Date.now() - t0, ev: 'analysis', analysis, ...(outcome.incomplete ? { partial: true } : {}) });
        }
      } finally {
        rmSync(outcome.dir, { recursive: true, force: true });
      }
      writer.write({ t: Date.now() - t0, ev: 'exit', code: outcome.exit.code, signal: outcome.exit.signal, stoppedByMemtrace: outcome.stoppedByUs, ...(outcome.incomplete ? { incomplete: outcome.incomplete } : {}) });
      writer.close();
      if (outcome.incomplete) {
        if (analysis) await finish(logPath, writer, analysis, opts, null);
        // A scenario that is not one has said so itself, in one line.
        if (!(opts.scenario && outcome.exit.code === 2 && outcome.boundaries.length === 0)) say(outcome.incomplete);
        say(`what was measured is in ${logPath}`);
        // A program that crashed or was killed keeps its exit code; a run memtrace could not
        // judge otherwise (stopped by memtrace, out of work, --check) is 2.
        const crashed = !outcome.stoppedByUs && outcome.exit.exitCode !== 0 && !opts.check;
        process.exitCode = crashed ? outcome.exit.exitCode : 2;
        return;
      }
      await finish(logPath, writer, analysis!, opts, outcome.stoppedByUs ? 0 : outcome.exit.exitCode);
    });
}

async function finish(logPath: string, writer: LogWriter, analysis: LeakAnalysis, opts: LeaksCommandOptions, programExit: number | null): Promise<void> {
  // The summary of what was written, from memory: the log may be a device or a FIFO.
  const report = buildReport(writer.contents() ?? await readLog(logPath), {});
  for (const w of writer.contents()?.warnings ?? []) process.stderr.write(`memtrace: warning: ${w}\n`);
  process.stderr.write(`${report.text}\nmemtrace: log ${logPath} (memtrace report ${logPath} --format html)\n`);
  if (opts.format === 'json') process.stdout.write(JSON.stringify(report.summary, null, 2) + '\n');
  if (programExit === null) return;
  process.exitCode = opts.check ? (analysis.leaks.length ? 1 : 0) : programExit;
}
