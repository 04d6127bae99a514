// Where a tool writes: one rule for every output path. A path is checked before the program
// starts (a bad -o fails at once, not after the run), the check creates or changes nothing the
// user owns, and opening never truncates or replaces anything but a regular file: a device,
// a FIFO or a symlink given as -o stays what it is. Nothing here ever unlinks a path.
import type { Stats } from 'node:fs';
import { fs } from './node-fs.js';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UsageError, fileError } from './errors.js';
const { accessSync, closeSync, constants, mkdtempSync, openSync, statSync, statfsSync, unlinkSync } = fs;

/** What an output path is before the run: a new file, an existing regular file, or something else (device, FIFO, socket). */
export type OutputKind = 'new' | 'file' | 'special';

/** A checked output path. */
export interface OutputTarget {
  path: string;
  kind: OutputKind;
  /** True when what is written there can be read back (a regular file): summaries and sidecar files need it. */
  regular: boolean;
}

/** Options of {@link checkOutput}. */
export interface CheckOutputOptions {
  /** The verb of messages: "cannot WHAT PATH: …" (default "write log"). */
  what?: string;
  /** The tool reads the file back or writes files beside it: only a regular file (or a new one) will do. */
  regularOnly?: string;
}

/** Less free space than this (one block) is a full disk. */
const MIN_FREE = 4096;

/** Free bytes for an unprivileged write where `dir` lives; undefined when the file system does not say (proc, sysfs). */
function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    if (s.blocks === 0) return undefined;
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

function noSpace(path: string, what: string): UsageError {
  return fileError(Object.assign(new Error('no space'), { code: 'ENOSPC' }), what, path);
}

/**
 * Checks that a tool can write `path`, before the program runs. `-` is refused: a tool's stdout
 * is the program's own (name a file `./-` to get a file called "-"). A new path is created and
 * removed at once (the only sure test, e.g. under /proc), an existing file is opened without
 * truncation, a device or FIFO is only checked with access(2), and a full disk is reported.
 */
export function checkOutput(path: string, opts: CheckOutputOptions = {}): OutputTarget {
  const what = opts.what ?? 'write log';
  if (path === '-') {
    throw new UsageError(`-o -: a tool's log cannot go to stdout, the program's own output goes there; name a file (./- for a file called "-")`);
  }
  const abs = resolve(path);
  let st: Stats | undefined;
  try {
    st = statSync(abs, { throwIfNoEntry: false });
  } catch (err) {
    throw fileError(err, what, path);
  }
  if (st?.isDirectory()) throw fileError(Object.assign(new Error('dir'), { code: 'EISDIR' }), what, path);
  if (st && !st.isFile()) {
    if (opts.regularOnly) throw new UsageError(`cannot ${what} ${path}: not a regular file (${opts.regularOnly})`);
    try { accessSync(abs, constants.W_OK); } catch (err) { throw fileError(err, what, path); }
    return { path, kind: 'special', regular: false };
  }
  if (st) {
    try { closeSync(openSync(abs, constants.O_WRONLY)); } catch (err) { throw fileError(err, what, path); }
    const free = freeBytes(dirname(abs));
    if (free !== undefined && free + st.size < MIN_FREE) throw noSpace(path, what);
    return { path, kind: 'file', regular: true };
  }
  try {
    const dir = statSync(dirname(abs));
    if (!dir.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    // O_EXCL: this file is ours, so removing it again takes nothing from anyone.
    closeSync(openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644));
    unlinkSync(abs);
  } catch (err) {
    throw fileError(err, what, path);
  }
  const free = freeBytes(dirname(abs));
  if (free !== undefined && free < MIN_FREE) throw noSpace(path, what);
  return { path, kind: 'new', regular: true };
}

/** Checks that new files can be created in the folder `dir` (where a log gets its default name), and that its disk is not full. */
export function checkOutputDir(dir: string, what = 'write a log in'): void {
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw fileError(err, what, dir);
  }
  const free = freeBytes(dir);
  if (free !== undefined && free < MIN_FREE) throw noSpace(dir, what);
}

/** True when `path` is a regular file now (what a log read back or a sidecar file needs). */
export function isRegularFile(path: string): boolean {
  try { return statSync(path).isFile(); } catch { return false; }
}

/**
 * Opens `path` for writing: a regular or new file is truncated or created; anything else (a
 * device, a FIFO, what a symlink points to) is opened as it is, never truncated nor replaced.
 */
export function openOutput(path: string): number {
  let st: Stats | undefined;
  try { st = statSync(path, { throwIfNoEntry: false }); } catch { st = undefined; }
  if (st && !st.isFile()) return openSync(path, constants.O_WRONLY);
  return openSync(path, 'w');
}

/** A new private folder under the system's temporary folder ($TMPDIR), or a one-line UsageError. */
export function makeTempDir(prefix: string): string {
  try {
    return mkdtempSync(join(tmpdir(), prefix));
  } catch (err) {
    throw fileError(err, 'make a temporary folder in', tmpdir());
  }
}
