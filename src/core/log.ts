import { closeSync, createReadStream, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { UsageError, fileError } from './errors.js';

/** Version of the log format, the value of the header's `memtrace` field. */
export const LOG_VERSION = 1;

/** The first line of every log: which tool wrote it, about what, when. */
export interface LogHeader {
  memtrace: number;
  tool: string;
  pid: number;
  command: string[];
  start: string;
  hostname: string;
  node: string;
  [field: string]: unknown;
}

/** One record of a log after the header; fields are the tool's own (times in ms since start, sizes in bytes). */
export type LogRecord = Record<string, unknown> & { t: number };

/** Builds a header with the common fields filled in. */
export function makeHeader(tool: string, fields: { pid: number; command: string[] } & Record<string, unknown>): LogHeader {
  return {
    memtrace: LOG_VERSION,
    tool,
    start: new Date().toISOString(),
    hostname: hostname(),
    node: process.version,
    ...fields,
  };
}

/** A log name that says what it is and sorts by time: memtrace-TOOL-YYYYMMDD-HHMMSS-PID.jsonl. */
export function defaultLogName(tool: string, pid: number, ext = 'jsonl', now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `memtrace-${tool}-${stamp}-${pid}.${ext}`;
}

/**
 * Writes a JSON Lines log: the header at once, then records buffered and written with
 * writeSync at least every `flushMs` (and when the buffer passes 64 KiB), so the file is
 * valid up to its last complete line whenever the writer dies.
 */
export class LogWriter {
  private fd: number;
  private chunks: string[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Set when a write failed (disk full, file gone); later records are dropped. */
  error: UsageError | undefined;
  /** Records written so far (header excluded). */
  count = 0;

  /** Opens (truncates) `path` and writes `header`; throws UsageError when the path is not writable. */
  constructor(readonly path: string, header: LogHeader, flushMs = 1000) {
    try {
      this.fd = openSync(path, 'w');
      writeSync(this.fd, JSON.stringify(header) + '\n');
    } catch (err) {
      throw fileError(err, 'write log', path);
    }
    if (flushMs > 0) {
      this.timer = setInterval(() => this.flush(), flushMs);
      this.timer.unref();
    }
  }

  /** Appends one record (buffered). */
  write(record: object): void {
    if (this.closed || this.error) return;
    const line = JSON.stringify(record) + '\n';
    this.chunks.push(line);
    this.size += line.length;
    this.count++;
    if (this.size > 65536) this.flush();
  }

  /** Writes what is buffered to the file now. */
  flush(): void {
    if (this.chunks.length === 0 || this.error || this.closed) return;
    const data = this.chunks.join('');
    this.chunks = [];
    this.size = 0;
    try {
      writeSync(this.fd, data);
    } catch (err) {
      this.error = fileError(err, 'write log', this.path);
    }
  }

  /** Flushes, syncs and closes the file; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    try { fsyncSync(this.fd); } catch { /* not every fs can */ }
    try { closeSync(this.fd); } catch { /* already closed */ }
  }
}

/** A log read back: its header, its records, and what was wrong with its tail. */
export interface LogContents {
  header: LogHeader;
  records: LogRecord[];
  /** Problems that did not stop reading, e.g. a last line cut mid-record. */
  warnings: string[];
}

/** Reads the first line of a log, checking it is a memtrace header. */
export function readHeader(path: string): LogHeader {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (err) { throw fileError(err, 'read log', path); }
  try {
    const b = Buffer.alloc(65536);
    const n = readSync(fd, b, 0, b.length, 0);
    const text = b.toString('utf8', 0, n);
    const nl = text.indexOf('\n');
    return parseHeader(nl >= 0 ? text.slice(0, nl) : text, path);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw fileError(err, 'read log', path);
  } finally {
    closeSync(fd);
  }
}

function parseHeader(line: string, path: string): LogHeader {
  let h: unknown;
  try { h = JSON.parse(line); } catch { h = undefined; }
  const header = h as LogHeader | undefined;
  if (!header || typeof header !== 'object' || typeof header.memtrace !== 'number' || typeof header.tool !== 'string') {
    throw new UsageError(`${path} is not a memtrace log (its first line is not a memtrace header)`);
  }
  if (header.memtrace > LOG_VERSION) {
    throw new UsageError(`${path} is a version ${header.memtrace} log; this memtrace reads version ${LOG_VERSION}`);
  }
  return header;
}

/**
 * Reads a whole JSON Lines log. A last line cut mid-record (a killed writer) is dropped with a
 * warning; a bad line anywhere else is a corrupt log and a UsageError naming the line.
 */
export async function readLog(path: string): Promise<LogContents> {
  const header = readHeader(path);
  const records: LogRecord[] = [];
  const warnings: string[] = [];
  const stream = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  let pendingBad: { line: number; text: string } | undefined;
  try {
    for await (const line of lines) {
      lineNo++;
      if (lineNo === 1) continue;
      if (pendingBad) throw new UsageError(`corrupt log ${path}: line ${pendingBad.line} is not a JSON record`);
      if (line.trim() === '') continue;
      try {
        const r = JSON.parse(line);
        if (!r || typeof r !== 'object' || Array.isArray(r)) throw new Error('not an object');
        records.push(r as LogRecord);
      } catch {
        pendingBad = { line: lineNo, text: line };
      }
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw fileError(err, 'read log', path);
  }
  if (pendingBad) {
    warnings.push(`${path}: line ${pendingBad.line} is cut mid-record (the writer was stopped?); read ${records.length} records before it`);
  }
  return { header, records, warnings };
}
