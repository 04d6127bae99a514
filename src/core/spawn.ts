import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { constants } from 'node:os';
import { UsageError, noCommandError } from './errors.js';

/** How a traced program ended. */
export interface ChildExit {
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  /** The signal that killed it, or null. */
  signal: NodeJS.Signals | null;
  /** What memtrace exits with: the status, or 128 + the signal number. */
  exitCode: number;
}

/** A program started under a tool. */
export interface TracedChild {
  child: ChildProcess;
  pid: number;
  /** Resolves when the program has exited (stdio passed through, signals forwarded). */
  exited: Promise<ChildExit>;
}

/** Options for {@link spawnTraced}. */
export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra pipes after stdin/stdout/stderr (fd 3, 4, ...), readable by the tool. */
  extraPipes?: number;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * Runs `command` with the user's stdio, forwarding signals sent to memtrace. SIGINT from a
 * terminal already reaches the whole foreground group, so it is forwarded only when stdin is
 * not a TTY (a `kill -INT` from elsewhere); other signals are always forwarded.
 */
export async function spawnTraced(command: string[], opts: SpawnOptions = {}): Promise<TracedChild> {
  if (command.length === 0) throw noCommandError('process');
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit'];
  for (let i = 0; i < (opts.extraPipes ?? 0); i++) stdio.push('pipe');
  const child = spawn(command[0]!, command.slice(1), { stdio, env: opts.env ?? process.env });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new UsageError(`command not found: ${command[0]}`));
      else if (err.code === 'EACCES') reject(new UsageError(`cannot run ${command[0]}: permission denied`));
      else reject(new UsageError(`cannot run ${command[0]}: ${err.message}`));
    });
  });
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of FORWARDED) {
    const h = () => {
      if (sig === 'SIGINT' && process.stdin.isTTY) return;
      try { child.kill(sig); } catch { /* already gone */ }
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      const num = signal ? (constants.signals as Record<string, number>)[signal] ?? 0 : 0;
      resolve({ code, signal, exitCode: code ?? 128 + num });
    });
  });
  return { child, pid: child.pid!, exited };
}

/**
 * The environment with `--import URL` added to NODE_OPTIONS (after what the user had), so that
 * every Node program the command starts loads the module `url` first.
 */
export function withNodeImport(env: NodeJS.ProcessEnv, url: string): NodeJS.ProcessEnv {
  const prev = env.NODE_OPTIONS ? env.NODE_OPTIONS + ' ' : '';
  return { ...env, NODE_OPTIONS: `${prev}--import "${url}"` };
}
