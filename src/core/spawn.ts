import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { isatty } from 'node:tty';
import { fileURLToPath } from 'node:url';
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
  /**
   * Pass the descriptors memtrace inherited (fd 3 and up) to the program. Default: when this
   * process is the memtrace command (a library caller's own open files are not the program's).
   */
  inheritFds?: boolean;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];
// A terminal sends these to its whole foreground group: the program has them already.
const FROM_TERMINAL = new Set<NodeJS.Signals>(['SIGINT', 'SIGWINCH']);

/**
 * The file descriptors above stderr that memtrace inherited from whoever started it (`3>file`,
 * a parent's pipe, a socket), read once when memtrace starts, before it opens anything. Node's
 * own are told apart by what they are (it marks some inherited ones close-on-exec too, so the
 * flag says nothing): event fds and epoll instances, both ends of its internal pipes, and the
 * read-only /dev/null libuv keeps in reserve. Passed to the program under the same numbers.
 */
export const inheritedFds: readonly number[] = scanInheritedFds();

/** This process is the memtrace command (dist/cli.js), not a program using the library. */
const runningCli = (() => {
  try { return realpathSync(process.argv[1] ?? '') === fileURLToPath(new URL('../cli.js', import.meta.url)); } catch { return false; }
})();

function scanInheritedFds(): number[] {
  let names: string[];
  try { names = readdirSync('/proc/self/fd'); } catch { return []; }
  const found: Array<{ fd: number; target: string }> = [];
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd < 3) continue;
    try { found.push({ fd, target: readlinkSync(`/proc/self/fd/${fd}`) }); } catch { /* the readdir's own fd */ }
  }
  const count = new Map<string, number>();
  for (const f of found) count.set(f.target, (count.get(f.target) ?? 0) + 1);
  return found.filter(({ fd, target }) => {
    if (target.startsWith('anon_inode:')) return false;
    if (target.startsWith('pipe:') && count.get(target)! > 1) return false;
    if (target === '/dev/null') {
      try {
        const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
        if (flags && (parseInt(flags[1]!, 8) & 3) === 0) return false;
      } catch { return false; }
    }
    return true;
  }).map((f) => f.fd).sort((a, b) => a - b);
}

/**
 * Runs `command` with the user's stdio and every other descriptor memtrace inherited (the same
 * numbers), forwarding signals sent to memtrace. SIGINT and SIGWINCH from a terminal already
 * reach the whole foreground group, so they are forwarded only when stdin is not a TTY (a
 * `kill` from elsewhere); other signals are always forwarded.
 */
export async function spawnTraced(command: string[], opts: SpawnOptions = {}): Promise<TracedChild> {
  if (command.length === 0) throw noCommandError('process');
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit'];
  for (const fd of opts.inheritFds ?? runningCli ? inheritedFds : []) {
    while (stdio.length < fd) stdio.push('ignore');
    stdio.push(fd);
  }
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
      if (FROM_TERMINAL.has(sig) && isatty(0)) return;
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

/** The environment with `--require PATH` added to NODE_OPTIONS (after what the user had): every Node program the command starts loads it first. */
export function withNodeRequire(env: NodeJS.ProcessEnv, path: string): NodeJS.ProcessEnv {
  const prev = env.NODE_OPTIONS ? env.NODE_OPTIONS + ' ' : '';
  return { ...env, NODE_OPTIONS: `${prev}--require ${JSON.stringify(path)}` };
}

/**
 * The environment with `--import URL` added to NODE_OPTIONS (after what the user had), so that
 * every Node program the command starts loads the module `url` first.
 */
export function withNodeImport(env: NodeJS.ProcessEnv, url: string): NodeJS.ProcessEnv {
  const prev = env.NODE_OPTIONS ? env.NODE_OPTIONS + ' ' : '';
  return { ...env, NODE_OPTIONS: `${prev}--import "${url}"` };
}

/** True when `cmd` names a node executable (node, nodejs, node20, /usr/bin/node, this node) or a script whose #! line runs node. */
export function isNodeCommand(cmd: string): boolean {
  if (cmd === process.execPath || /^node(js)?(\d+(\.\d+)*)?(\.exe)?$/i.test(basename(cmd))) return true;
  if (!cmd.includes('/')) return false;
  let fd: number | undefined;
  try {
    fd = openSync(cmd, 'r');
    const b = Buffer.alloc(128);
    const line = b.toString('utf8', 0, readSync(fd, b, 0, 128, 0)).split('\n')[0]!;
    return /^#!\s*\S*\/(env\s+(-S\s+)?)?node(js)?\b/.test(line);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
