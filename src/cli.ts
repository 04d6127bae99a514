#!/usr/bin/env node
// The command router: finds each tool's CLI by convention (src/tools/<tool>/command.ts exports
// `register(program)`), adds `report`, parses argv and turns user errors into one line + exit 2.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { fileError, isUsageError } from './core/errors.js';

const here = dirname(fileURLToPath(import.meta.url));

/** A module that adds one subcommand to the CLI. */
interface CommandModule {
  register(program: Command): void;
}

async function main(argv: string[]): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { version: string };
  const program = new Command('memtrace')
    .description('Memory tracing for Node.js and TypeScript programs (and any Linux process).')
    .version(pkg.version, '-V, --version')
    .enablePositionalOptions()
    // Errors are printed by main's catch as one line `memtrace: …`, with where to find the usage.
    .configureOutput({ outputError: () => {} })
    .exitOverride();
  const toolsDir = join(here, 'tools');
  // `memtrace heap …` loads only the heap command (each tool's modules cost tens of ms to load);
  // help, errors and anything else load them all.
  // `memtrace --version` needs none (loading them all took it from ~85 to ~140 ms).
  const named = argv[2] && /^[a-z]+$/.test(argv[2]) ? argv[2] : undefined;
  const only = named === 'report' ? join(here, 'report', 'command.js') : named ? join(toolsDir, named, 'command.js') : undefined;
  const versionOnly = argv.length === 3 && (argv[2] === '-V' || argv[2] === '--version');
  const modules: string[] = versionOnly ? [] : only && existsSync(only) ? [only] : readdirSync(toolsDir)
    .filter((t) => existsSync(join(toolsDir, t, 'command.js')))
    .sort()
    .map((t) => join(toolsDir, t, 'command.js'));
  if (!versionOnly && (modules.length !== 1 || modules[0] !== only)) modules.push(join(here, 'report', 'command.js'));
  for (const m of modules) {
    const mod = (await import(pathToFileURL(m).href)) as CommandModule;
    mod.register(program);
  }
  await program.parseAsync(argv);
}

/**
 * stdout closed by the reader (`| head`) ends memtrace quietly; a full disk is one line. stderr
 * closed the same way (`2>&1 | head`, where the summaries go) is ignored: the run goes on to its
 * end and the program's exit code, with nowhere left to say anything.
 */
function guardStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(`memtrace: ${fileError(err, 'write to', 'stdout').message}\n`);
    process.exit(1);
  });
  process.stderr.on('error', () => { /* no reader left: the exit code still says how it went */ });
}

/** The subcommand named in argv, for the usage hint of an error. */
function subcommandOf(argv: string[], names: string[]): string | undefined {
  return argv.slice(2).find((a) => names.includes(a));
}

const TOOL_NAMES = ['process', 'calls', 'malloc', 'heap', 'spaces', 'leaks', 'report'];
guardStdout();

main(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Help and version texts are printed already; an error gets its one line here.
    if (err.exitCode !== 0 && !['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code)) {
      const sub = subcommandOf(process.argv, TOOL_NAMES);
      const message = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim();
      process.stderr.write(`memtrace: ${message} (memtrace ${sub ? sub + ' ' : ''}--help for usage)\n`);
    }
    process.exitCode = err.exitCode === 0 ? 0 : 2;
    return;
  }
  if (isUsageError(err)) {
    process.stderr.write(`memtrace: ${err.message}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  process.stderr.write(`memtrace: internal error (please report it):\n${(err as Error)?.stack ?? err}\n`);
  process.exitCode = 70;
});
