import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { UsageError, afterRun, noCommandError } from '../../core/errors.js';
import { checkOutput, checkOutputDir, isRegularFile, makeTempDir } from '../../core/output.js';
import { LogWriter, defaultLogName, makeHeader, readLog } from '../../core/log.js';
import { spawnTraced, withNodeImport, type ChildExit } from '../../core/spawn.js';
import { parseBytes } from '../../core/units.js';
import { formatCallsSummary, summarizeCalls } from './summary.js';
import type { CallsEnvOptions } from '../../runtime/calls-start.js';
import { syncConnectAvailable } from '../../runtime/addon.js';
import { REQUIRE_ENTRY } from '../../core/channel-host.js';
import { helpExamples } from '../../core/help.js';

const registerUrl = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), '../../runtime/calls-register.js')).href;

// Node options that take the next argument as their value.
const VALUE_OPTIONS = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '-C', '--conditions',
  '--input-type', '--env-file', '--title', '--inspect-port', '--stack-trace-limit', '--max-old-space-size']);

/** ESM loaders among node options: ours must be registered after theirs (to see the JavaScript they make). */
const LOADER_OPTION = /^--(import|loader|experimental-loader)(=|$)/;

/**
 * Puts calls' entry in the command: right after node's own options when the command runs node
 * (so loaders given there, like tsx, run first and our hooks see JavaScript), else in
 * NODE_OPTIONS for whatever node the command starts. On a node command line with no ESM loader
 * (there or in NODE_OPTIONS) and the runtime addon built, the entry is the `--require` preload:
 * the start is synchronous and node runs the main module as untraced (with `--import`, node 20
 * runs a CommonJS main through its ESM loader: a ts-node main fails). Else `--import register.js`.
 */
export function withCallsImport(command: string[], env: NodeJS.ProcessEnv): { command: string[]; env: NodeJS.ProcessEnv } {
  const exe = command[0]!;
  if (/^node(js)?[0-9]*$/.test(basename(exe)) || exe === process.execPath) {
    let i = 1;
    let loaders = (env.NODE_OPTIONS ?? '').split(/\s+/).some((o) => LOADER_OPTION.test(o));
    while (i < command.length && command[i]!.startsWith('-') && command[i] !== '-' && command[i] !== '--') {
      if (['-e', '--eval', '-p', '--print'].includes(command[i]!)) break;
      if (LOADER_OPTION.test(command[i]!)) loaders = true;
      if (VALUE_OPTIONS.has(command[i]!)) i++;
      i++;
    }
    const sync = !loaders && syncConnectAvailable() && env.MEMTRACE_CALLS_PUBLISHER !== 'worker';
    const entry = sync ? ['--require', REQUIRE_ENTRY] : ['--import', registerUrl];
    return { command: [exe, ...command.slice(1, i), ...entry, ...command.slice(i)], env };
  }
  return { command, env: withNodeImport(env, registerUrl) };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Adds `memtrace calls` to the CLI. */
export function register(program: Command): void {
  program
    .command('calls')
    .addHelpText('after', helpExamples([
      ['memtrace calls -- node app.js', 'log memory at calls where RSS moved 4 KiB'],
      ['memtrace calls --trigger 64k -o calls.jsonl -- node --import tsx src/main.ts', 'TypeScript, coarser trigger'],
      ["memtrace calls --include '**/node_modules/yaml/**' -- node app.js", "also a package's functions"],
      ['memtrace report calls.jsonl --format html', 'the timelines and top functions'],
    ]))
    .description('memory at every function call and return of a Node.js program (JS and TS), where RSS moved')
    .option('-t, --trigger <size>', 'write an event when RSS moved this much since the last one (0: every event)', '4k')
    .option('--include <glob>', 'also instrument files matching this glob (repeatable; node_modules is out by default)', collect, [])
    .option('--exclude <glob>', 'never instrument files matching this glob (repeatable)', collect, [])
    .option('--lines', 'also probe every statement (line events)')
    .option('--native', 'also events for calls into code that is not instrumented: built-ins (JSON.parse), node\'s API (fs.readFileSync), addons, excluded modules')
    .option('-o, --output <file>', 'the log to write (default: memtrace-calls-DATE-TIME-PID.jsonl here)')
    .option('--top <n>', 'functions in the summary printed at exit', '10')
    .argument('[command...]', 'the program to run, after --')
    .action(async (command: string[], opts: { trigger: string; include: string[]; exclude: string[]; lines?: boolean; native?: boolean; output?: string; top: string }) => {
      const trigger = parseBytes(opts.trigger, '--trigger');
      const top = Number(opts.top);
      if (!Number.isInteger(top) || top <= 0) throw new UsageError(`--top: '${opts.top}' must be a whole number above zero`);
      if (command.length === 0) throw noCommandError('calls');
      // The traced program writes the log; the path is checked now, before it starts, and left as it is.
      if (opts.output !== undefined) checkOutput(opts.output);
      else checkOutputDir(process.cwd());
      const output = resolve(opts.output ?? defaultLogName('calls', process.pid));
      // The first process of the tree to write claims the log through a file in a folder of ours.
      const claimDir = makeTempDir('memtrace-calls-');
      const claim = join(claimDir, 'claim');
      let exit: ChildExit;
      let told: { records?: number; incomplete?: string } | undefined;
      let claimed = false;
      let seen = { processes: 0, instrumentedFiles: 0 };
      let pid = 0;
      try {
        const envOpts: CallsEnvOptions = { trigger, output, lines: !!opts.lines, native: !!opts.native, include: opts.include, exclude: opts.exclude, claim, quiet: true };
        const run = withCallsImport(command, { ...process.env, MEMTRACE_CALLS: JSON.stringify(envOpts) });
        const child = await spawnTraced(run.command, { env: run.env });
        pid = child.pid;
        exit = await child.exited;
        claimed = existsSync(claim);
        try { told = JSON.parse(readFileSync(claim, 'utf8')) as typeof told; } catch { told = undefined; }
        if (!claimed) seen = processesSeen(claimDir);
      } finally {
        rmSync(claimDir, { recursive: true, force: true });
      }
      process.exitCode = await afterRun(exit.exitCode, async () => {
        const err = process.stderr;
        if (!claimed) {
          // No event at all: the log still says what ran.
          const writer = new LogWriter(output, makeHeader('calls', { pid, command, trigger, lines: !!opts.lines, native: !!opts.native, include: opts.include, exclude: opts.exclude }));
          writer.write({ t: 0, end: { processes: seen.processes, instrumented_files: seen.instrumentedFiles } });
          writer.close();
          if (writer.error) throw writer.error;
        }
        if (!isRegularFile(output)) {
          // A device or a FIFO: nothing to read back for a summary.
          const n = told?.records !== undefined ? ` (${told.records} records)` : '';
          err.write(`memtrace: calls log written to ${output}${n}; no summary: it is not a regular file to read back\n`);
          if (told?.incomplete) err.write(`memtrace: warning: ${told.incomplete}\n`);
          return;
        }
        const log = await readLog(output);
        err.write(`memtrace: calls log written to ${output}\n`);
        // A failed write is said once, with where the log stops (not also as a cut last line).
        for (const w of told?.incomplete ? [told.incomplete] : log.warnings) err.write(`memtrace: warning: ${w}\n`);
        err.write(formatCallsSummary(summarizeCalls(log.records, top), top).replace(/^/gm, 'memtrace: ') + '\n');
      });
    });
}

/** What the program's processes that wrote no event left in the claim folder: how many ran the probes, and the instrumented files they ran. */
function processesSeen(claimDir: string): { processes: number; instrumentedFiles: number } {
  let processes = 0, instrumentedFiles = 0;
  for (const name of readdirSync(claimDir)) {
    if (!name.startsWith('claim.')) continue;
    processes++;
    try { instrumentedFiles += Number((JSON.parse(readFileSync(join(claimDir, name), 'utf8')) as { instrumented_files?: number }).instrumented_files) || 0; } catch { /* cut short: counted as a process */ }
  }
  return { processes, instrumentedFiles };
}
