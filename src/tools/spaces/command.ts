// `memtrace spaces [--interval 1s] [--output FILE] -- node app.js`: runs a node program with the
// probe preloaded, writes its snapshots to the log and prints the start→exit change at exit.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { UsageError, afterRun, noCommandError } from '../../core/errors.js';
import { LogWriter, defaultLogName, makeHeader } from '../../core/log.js';
import { ChannelHost } from '../../core/channel-host.js';
import { isNodeCommand, spawnTraced } from '../../core/spawn.js';
import { checkOutput, checkOutputDir } from '../../core/output.js';
import { parseBytes, parseInterval } from '../../core/units.js';
import { buildReport } from './report.js';
import type { ProbeOptions } from '../../runtime/spaces-probe.js';
import { helpExamples } from '../../core/help.js';

const probePath = join(dirname(fileURLToPath(import.meta.url)), '../../runtime/spaces-probe.js');

/** Options of `memtrace spaces`. */
interface SpacesCommandOptions {
  interval?: string;
  output?: string;
  threshold: string;
  code?: boolean;
  all?: boolean;
  quiet?: boolean;
}

/** A log record of a snapshot: the snapshot with `t` (ms since the log's start) instead of `time`. */
function toRecord(message: Record<string, unknown>, startEpoch: number): Record<string, unknown> {
  const { time, ...rest } = message as { time: number } & Record<string, unknown>;
  return { t: Math.round((time - startEpoch) * 1000) / 1000, ...rest };
}

/** Adds `memtrace spaces` to the CLI. */
export function register(program: Command): void {
  program
    .command('spaces')
    .addHelpText('after', helpExamples([
      ['memtrace spaces -- node app.js', 'V8 heap spaces at start and exit'],
      ['memtrace spaces -i 200ms -o s.jsonl -- node app.js', 'also every 200 ms'],
      ['memtrace report s.jsonl --format html', 'stacked chart per space'],
    ]))
    .description("V8's heap spaces of a node program at start and exit (and at intervals): used, committed, available, physical; heap statistics; process.memoryUsage()")
    .option('-i, --interval <duration>', 'also take a snapshot at this interval, even while the program is busy (e.g. 1s, 200ms)')
    .option('-o, --output <path>', 'log file (default: memtrace-spaces-DATE-TIME-PID.jsonl in the current folder)')
    .option('-t, --threshold <size>', 'the exit summary hides heap and process figures that changed by less than this', '64k')
    .option('--code', 'read code and bytecode sizes at every snapshot, not only at start and exit (walks the heap: ~0.1 ms per MiB)')
    .option('--all', 'show every space and figure in the exit summary, changed or not')
    .option('-q, --quiet', 'print no summary at exit, only where the log is')
    .argument('[command...]', 'the node program to run, after --')
    .passThroughOptions()
    .action(async (command: string[], opts: SpacesCommandOptions) => {
      process.exitCode = await runSpaces(command, opts);
    });
}

async function runSpaces(command: string[], opts: SpacesCommandOptions): Promise<number> {
  const intervalMs = opts.interval === undefined ? 0 : parseInterval(opts.interval, '--interval');
  const threshold = parseBytes(opts.threshold, '--threshold');
  if (command.length === 0) throw noCommandError('spaces');
  if (!isNodeCommand(command[0]!)) {
    throw new UsageError(`spaces needs a node program (it reads V8 from inside it): run it as memtrace spaces -- node app.js; '${command[0]}' is not node`);
  }
  if (opts.output !== undefined) checkOutput(opts.output);
  else checkOutputDir(process.cwd());
  const probe: ProbeOptions = { intervalMs, code: opts.code ?? false };
  const channel = await ChannelHost.open({ config: probe });
  const env = channel.environment(process.env, pathToFileURL(probePath).href);
  const startEpoch = performance.timeOrigin + performance.now();
  const traced = await spawnTraced(command, { env }).catch((err) => { channel.close(); throw err; });
  const path = opts.output ?? defaultLogName('spaces', traced.pid);
  let log: LogWriter | undefined;
  try {
    const header = makeHeader('spaces', {
      pid: traced.pid, command, interval_ms: intervalMs || null, threshold, code: opts.code ?? false,
    });
    header.start = new Date(startEpoch).toISOString();
    header.start_epoch_ms = startEpoch;
    // Kept in memory too: the summary is of what was written, whatever the log is (a device, a FIFO).
    log = new LogWriter(path, header, 1000, { keep: true });
  } catch (err) {
    // Checked before the start, yet gone since: the program runs on untraced, its exit code kept.
    process.stderr.write(`memtrace: ${(err as Error).message}; the program runs on untraced\n`);
  }

  let first: Record<string, unknown> | undefined;
  let last: Record<string, unknown> | undefined;
  channel.onMessage((m) => {
    if (typeof m.time !== 'number' || typeof m.at !== 'string') return;
    if (!log) return;
    if (m.at === 'mark') log.write({ t: Math.round(((m.time as number) - startEpoch) * 1000) / 1000, mark: m.label });
    log.write(toRecord(m, startEpoch));
    if (!first) first = m;
    last = m;
  });

  const exit = await traced.exited;
  // What the probe sent at exit is read first (briefly: the socket closes with the program).
  await Promise.race([channel.drained(), new Promise((r) => setTimeout(r, 1000).unref())]);
  channel.close();
  if (!log) return exit.exitCode;
  const writer = log;
  const endT = performance.timeOrigin + performance.now() - startEpoch;
  writer.write({ t: Math.round(endT * 1000) / 1000, ended: true, exitCode: exit.code, signal: exit.signal });
  writer.close();

  return afterRun(exit.exitCode, () => {
    const err = process.stderr;
    const contents = writer.contents()!;
    if (!first || !last) {
      err.write('memtrace: the program sent no V8 figures (it ended before the probe loaded, e.g. node --version or --check, or it is not a node program)\n');
    } else if (!opts.quiet) {
      // The same text as `memtrace report LOG`, from the records just written.
      const report = buildReport(contents, { all: opts.all ?? false, hiddenHint: '--all shows them' });
      for (const w of report.warnings) err.write(`memtrace: warning: ${w}\n`);
      err.write('\n' + report.text + '\n');
    }
    for (const w of contents.warnings) err.write(`memtrace: warning: ${w}\n`);
    err.write(`memtrace: wrote ${path} (${writer.stop.records} records); memtrace report ${path} --format html for the charts\n`);
  });
}
