import { accessSync, constants, closeSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileError } from './errors.js';

/**
 * Checks before a run starts that `path` can be written (created or truncated), so a bad
 * --output is reported at once, not after the program has run. Creates nothing that is not there.
 */
export function assertWritable(path: string, what = 'write'): void {
  const abs = resolve(path);
  try {
    if (statSync(abs, { throwIfNoEntry: false })) {
      const fd = openSync(abs, 'r+');
      closeSync(fd);
      return;
    }
    const dir = dirname(abs);
    if (!statSync(dir).isDirectory()) {
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw fileError(err, what, path);
  }
}

/** Checks that new files can be created in the folder `dir` (where a log gets its default name). */
export function assertWritableDir(dir: string): void {
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw fileError(err, 'write a log in', dir);
  }
}

/** Reads up to `len` bytes at `pos` of an open file (fewer at its end). */
export function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n <= 0) break;
    got += n;
  }
  return got === len ? b : b.subarray(0, got);
}
