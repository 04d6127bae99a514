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
