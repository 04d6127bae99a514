#!/usr/bin/env node
// The command router: finds each tool's CLI by convention (src/tools/<tool>/command.ts exports
// `register(program)`), adds `report`, parses argv and turns user errors into one line + exit 2.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { isUsageError } from './core/errors.js';

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
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const toolsDir = join(here, 'tools');
  // `memtrace heap …` loads only the heap command (each tool's modules cost tens of ms to load);
  // help, errors and anything else load them all.
  const named = argv[2] && /^[a-z]+$/.test(argv[2]) ? argv[2] : undefined;
  const only = named === 'report' ? join(here, 'report', 'command.js') : named ? join(toolsDir, named, 'command.js') : undefined;
  const modules: string[] = only && existsSync(only) ? [only] : readdirSync(toolsDir)
    .filter((t) => existsSync(join(toolsDir, t, 'command.js')))
    .sort()
    .map((t) => join(toolsDir, t, 'command.js'));
  if (modules.length !== 1 || modules[0] !== only) modules.push(join(here, 'report', 'command.js'));
  for (const m of modules) {
    const mod = (await import(pathToFileURL(m).href)) as CommandModule;
    mod.register(program);
  }
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // commander has already printed its one line (or the help / version text).
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
