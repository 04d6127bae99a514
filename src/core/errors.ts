/** Errors a user can cause: printed as one line, exit code 2, never a stack trace. */
export class UsageError extends Error {
  /** Exit code the CLI uses for this error. */
  readonly exitCode: number = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** True when `err` is a user-caused error that should be printed as one line. */
export function isUsageError(err: unknown): err is UsageError {
  return err instanceof UsageError;
}

/** Turns a Node system error (ENOENT, EACCES, ...) about `path` into a one-line UsageError. */
export function fileError(err: unknown, what: string, path: string): UsageError {
  const code = (err as NodeJS.ErrnoException)?.code;
  const reason: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
  };
  const why = (code && reason[code]) ?? (err instanceof Error ? err.message : String(err));
  return new UsageError(`cannot ${what} ${path}: ${why}`);
}

/**
 * Runs what a tool does once the traced program has ended (summary, moving files). Whatever
 * fails there is printed (one line for a UsageError) and the program's exit code is kept:
 * memtrace never replaces it with its own.
 */
export async function afterRun(exitCode: number, work: () => unknown): Promise<number> {
  try {
    await work();
  } catch (err) {
    if (isUsageError(err)) process.stderr.write(`memtrace: ${err.message}\n`);
    else process.stderr.write(`memtrace: internal error (please report it):\n${(err as Error)?.stack ?? err}\n`);
  }
  return exitCode;
}

/** The one wording of a missing command, for every tool. */
export function noCommandError(tool: string, example = `memtrace ${tool} -- node app.js`): UsageError {
  return new UsageError(`no command given: put the program after --, e.g. ${example}`);
}
