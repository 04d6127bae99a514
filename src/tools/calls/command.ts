import { existsSync, unlinkSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { UsageError, fileError } from '../../core/errors.js';
import { LogWriter, defaultLogName, makeHeader, readLog } from '../../core/log.js';
import { spawnTraced, withNodeImport } from '../../core/spawn.js';
import { parseBytes } from '../../core/units.js';
import { formatCallsSummary, summarizeCalls } from './summary.js';
import type { CallsEnvOptions } from '../../runtime/calls-register.js';

const registerUrl = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), '../../runtime/calls-register.js')).href;

// Node options that take the next argument as their value.
const VALUE_OPTIONS = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '-C', '--conditions',
  '--input-type', '--env-file', '--title', '--inspect-port', '--stack-trace-limit', '--max-old-space-size']);

/**
 * Puts `--import register.js` in the command: right after node's own options when the command
 * runs node (so loaders given there, like tsx, run first and our hooks see JavaScript), else in
 * NODE_OPTIONS for whatever node the command starts.
 */
export function withCallsImport(command: string[], env: NodeJS.ProcessEnv): { command: string[]; env: NodeJS.ProcessEnv } {
  const exe = command[0]!;
  if (/^node(js)?[0-9]*$/.test(basename(exe)) || exe === process.execPath) {
    let i = 1;
    while (i < command.length && command[i]!.startsWith('-') && command[i] !== '-' && command[i] !== '--') {
      if (['-e', '--eval', '-p', '--print'].includes(command[i]!)) break;
      if (VALUE_OPTIONS.has(command[i]!)) i++;
      i++;
    }
    return { command: [exe, ...command.slice(1, i), '--import', registerUrl, ...command.slice(i)], env };
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
    .description('memory at every function call and return of a Node.js program (JS and TS), where RSS moved')
    .option('-t, --trigger <size>', 'write an event when RSS moved this much since the last one (0: every event)', '4k')
    .option('--include <glob>', 'also instrument files matching this glob (repeatable; node_modules is out by default)', collect, [])
    .option('--exclude <glob>', 'never instrument files matching this glob (repeatable)', collect, [])
    .option('--lines', 'also probe every statement (line events)')
    .option('-o, --output <file>', 'the log to write (default: memtrace-calls-DATE-PID.jsonl here)')
    .option('--top <n>', 'functions in the summary printed at exit', '10')
    .argument('[command...]', 'the program to run, after --')
    .action(async (command: string[], opts: { trigger: string; include: string[]; exclude: string[]; lines?: boolean; output?: string; top: string }) => {
      const trigger = parseBytes(opts.trigger, '--trigger');
      const top = Number(opts.top);
      if (!Number.isInteger(top) || top <= 0) throw new UsageError(`--top: '${opts.top}' must be a whole number above zero`);
      if (command.length === 0) throw new UsageError('no command given: put it after --, e.g. memtrace calls -- node app.js');
      const output = resolve(opts.output ?? defaultLogName('calls', process.pid));
      // The traced program creates the log when it first writes; make sure the path is writable now.
      try { new LogWriter(output, makeHeader('calls', { pid: 0, command })).close(); unlinkSync(output); } catch (err) {
        throw err instanceof UsageError ? err : fileError(err, 'write log', output);
      }
      const envOpts: CallsEnvOptions = { trigger, output, lines: !!opts.lines, include: opts.include, exclude: opts.exclude, claim: true, quiet: true };
      const run = withCallsImport(command, { ...process.env, MEMTRACE_CALLS: JSON.stringify(envOpts) });
      const child = await spawnTraced(run.command, { env: run.env });
      const exit = await child.exited;
      if (!existsSync(output)) {
        new LogWriter(output, makeHeader('calls', { pid: child.pid, command, trigger, lines: !!opts.lines, include: opts.include, exclude: opts.exclude })).close();
      }
      const log = await readLog(output);
      process.stderr.write(`memtrace: calls log written to ${output}\n`);
      process.stderr.write(formatCallsSummary(summarizeCalls(log.records, top), top).replace(/^/gm, 'memtrace: ') + '\n');
      process.exitCode = exit.exitCode;
    });
}
