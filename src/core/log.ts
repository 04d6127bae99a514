import { fs } from './node-fs.js';
import { readAt } from './fsutil.js';
import { createRequire } from 'node:module';
import { UsageError, fileError } from './errors.js';
import { isRegularFile, openOutput } from './output.js';
const { closeSync, createReadStream, fsyncSync, openSync, readFileSync, writeSync } = fs;

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

/**
 * A log whose records do not hold what its tool writes: thrown by a tool's report with what is
 * wrong ("record 12: …"); the report command adds the file's name.
 */
export class CorruptLogError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptLogError';
  }
}

/**
 * The host's name as uname(2) gives it, read from /proc where it can be: the log is also written
 * inside traced programs, and node:os costs one that does not use it 0.33 MiB of RSS.
 */
function hostname(): string {
  try {
    const name = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
    if (name) return name;
  } catch { /* not Linux, or no /proc */ }
  return (createRequire(import.meta.url)('node:os') as typeof import('node:os')).hostname();
}

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

/** Options of {@link LogWriter}. */
export interface LogWriterOptions {
  /** Keep every record in memory too (see {@link LogWriter.contents}): for a summary that cannot read the log back. */
  keep?: boolean;
  /** Called once when a write fails (disk full, file gone); later records are dropped. */
  onError?: (error: UsageError, stop: LogStop) => void;
}

/** Where a log whose writes failed stops: records complete in it, and the time of the last one. */
export interface LogStop {
  records: number;
  lastT: number | undefined;
}

/**
 * Writes a JSON Lines log: the header at once, then records buffered and written with
 * writeSync at least every `flushMs` (and when the buffer passes 64 KiB), so the file is
 * valid up to its last complete line whenever the writer dies. The path is opened by
 * `openOutput`: a device or FIFO is written as it is, never truncated nor replaced.
 */
export class LogWriter {
  private fd: number;
  /** Buffered text: a record's line, or the lines of a batch of records. */
  private lines: string[] = [];
  /** For each entry of `lines`: the time of its last record, and how many records it holds. */
  private times: Array<number | undefined> = [];
  private counts: number[] = [];
  private buffered = 0;
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private kept: LogRecord[] | undefined;
  /** Set when a write failed (disk full, file gone); later records are dropped. */
  error: UsageError | undefined;
  /** Records given to write() so far (header excluded). */
  count = 0;
  /** Records completely in the file so far; with {@link error}, where the log stops. */
  readonly stop: LogStop = { records: 0, lastT: undefined };
  /** True when the log is a regular file (one that can be read back). */
  readonly regular: boolean;

  /** Opens `path` (truncating a regular file only) and writes `header`; throws UsageError when it cannot. */
  constructor(readonly path: string, readonly header: LogHeader, flushMs = 1000, private readonly options: LogWriterOptions = {}) {
    try {
      this.fd = openOutput(path);
    } catch (err) {
      throw fileError(err, 'write log', path);
    }
    this.regular = isRegularFile(path);
    if (options.keep) this.kept = [];
    try {
      writeAll(this.fd, JSON.stringify(header) + '\n');
    } catch (err) {
      try { closeSync(this.fd); } catch { /* below */ }
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
    const t = (record as { t?: unknown }).t;
    this.writeLine(JSON.stringify(record), typeof t === 'number' ? t : undefined, record);
  }

  /** Appends one record already serialized as a JSON object on one line (its time `t`, and the record itself for `keep`). */
  writeLine(json: string, t: number | undefined, record: object): void {
    if (this.closed || this.error) return;
    const line = json + '\n';
    this.lines.push(line);
    this.times.push(t);
    this.counts.push(1);
    this.kept?.push(record as LogRecord);
    this.size += line.length;
    this.count++;
    this.buffered++;
    if (this.size > 65536) this.flush();
  }

  /** Appends `count` records already serialized, each a JSON object on its own line (newline-terminated), the last at time `lastT`. */
  writeLines(text: string, count: number, lastT: number | undefined): void {
    if (this.closed || this.error || count === 0) return;
    this.lines.push(text);
    this.times.push(lastT);
    this.counts.push(count);
    if (this.kept) for (const line of text.split('\n')) if (line) this.kept.push(JSON.parse(line) as LogRecord);
    this.size += text.length;
    this.count += count;
    this.buffered += count;
    if (this.size > 65536) this.flush();
  }

  /** Writes what is buffered to the file now. */
  flush(): void {
    if (this.lines.length === 0 || this.error || this.closed) return;
    const data = Buffer.from(this.lines.join(''));
    const lines = this.lines, times = this.times, counts = this.counts, buffered = this.buffered;
    this.lines = [];
    this.times = [];
    this.counts = [];
    this.buffered = 0;
    this.size = 0;
    let written = data.length;
    try {
      writeAll(this.fd, data);
    } catch (err) {
      written = (err as { written?: number }).written ?? 0;
      this.error = fileError(err, 'write log', this.path);
    }
    if (written === data.length) {
      this.stop.records += buffered;
      for (let i = times.length - 1; i >= 0; i--) if (times[i] !== undefined) { this.stop.lastT = times[i]; break; }
    } else {
      // Count the records now whole in the file (the failed write may have cut one, inside a batch too).
      let at = 0;
      for (let i = 0; i < lines.length; i++) {
        const size = Buffer.byteLength(lines[i]!);
        if (at + size <= written) {
          this.stop.records += counts[i]!;
          if (times[i] !== undefined) this.stop.lastT = times[i];
          at += size;
          continue;
        }
        const whole = data.subarray(at, written).toString().split('\n').slice(0, -1);
        this.stop.records += whole.length;
        const t = whole.length ? (JSON.parse(whole.at(-1)!) as { t?: unknown }).t : undefined;
        if (typeof t === 'number') this.stop.lastT = t;
        break;
      }
    }
    if (this.error) this.options.onError?.(this.error, { ...this.stop });
  }

  /** The header and every record written, from memory (needs `keep`); undefined without it. */
  contents(): LogContents | undefined {
    if (!this.kept) return undefined;
    const records = this.error ? this.kept.slice(0, this.stop.records) : this.kept;
    return { header: this.header, records, warnings: this.error ? [this.incomplete()!] : [] };
  }

  /** One line saying where the log stops and why, or undefined when it is whole. */
  incomplete(): string | undefined {
    if (!this.error) return undefined;
    const at = this.stop.lastT !== undefined ? ` (t=${Math.round(this.stop.lastT)} ms)` : '';
    return `${this.error.message}: the log is incomplete, it stops after record ${this.stop.records}${at}`;
  }

  /** Flushes, syncs and closes the file; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.regular) try { fsyncSync(this.fd); } catch { /* not every fs can */ }
    try { closeSync(this.fd); } catch { /* already closed */ }
  }
}

/** writeSync until all is written (a write to a nearly full disk writes part); a failure carries `written`. */
function writeAll(fd: number, data: string | Buffer): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw Object.assign(err as Error, { written: off });
    }
  }
}

/** A log read back: its header, its records, and what was wrong with its tail. */
export interface LogContents {
  header: LogHeader;
  records: LogRecord[];
  /** Problems that did not stop reading, e.g. a last line cut mid-record. */
  warnings: string[];
}

/** Reads the first line of a log, however long (the header holds the command line), checking it is a memtrace header. */
export function readHeader(path: string): LogHeader {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (err) { throw fileError(err, 'read log', path); }
  try {
    const parts: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const b = readAt(fd, pos, 65536);
      const nl = b.indexOf(0x0a);
      if (nl >= 0) { parts.push(b.subarray(0, nl)); break; }
      parts.push(b);
      pos += b.length;
      if (b.length < 65536) break;
      if (pos > MAX_HEADER) throw new UsageError(`${path} is not a memtrace log (its first line is over ${MAX_HEADER >> 20} MiB)`);
    }
    return parseHeader(Buffer.concat(parts).toString('utf8'), path);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw fileError(err, 'read log', path);
  } finally {
    closeSync(fd);
  }
}

/** A header longer than this is not one (a command line is at most a few MiB: ARG_MAX). */
const MAX_HEADER = 64 * 1024 * 1024;

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
  const problem = headerProblem(header);
  if (problem) throw new UsageError(`corrupt log ${path}: its header ${problem}`);
  return header;
}

/** What is wrong with the common fields of a header, or undefined when they are sound. */
export function headerProblem(header: Record<string, unknown>): string | undefined {
  const wrong: string[] = [];
  if (!Number.isInteger(header.pid) || (header.pid as number) < 0) wrong.push('pid (a process id)');
  if (!Array.isArray(header.command) || !header.command.every((a) => typeof a === 'string')) wrong.push('command (a list of strings)');
  if (typeof header.start !== 'string' || Number.isNaN(Date.parse(header.start))) wrong.push('start (a date)');
  return wrong.length ? `lacks or has a wrong ${wrong.join(', ')}` : undefined;
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
  // Loaded here, not with the module: the writer runs inside traced programs (calls), where
  // node:readline would add ~1.2 MiB of RSS for nothing.
  const { createInterface } = await import('node:readline');
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  let pendingBad: { line: number; text: string } | undefined;
  let badT: number | undefined;
  try {
    for await (const line of lines) {
      lineNo++;
      if (lineNo === 1) continue;
      if (pendingBad) throw new UsageError(`corrupt log ${path}: line ${pendingBad.line} is not a JSON record`);
      if (line.trim() === '') continue;
      try {
        const r = JSON.parse(line);
        if (!r || typeof r !== 'object' || Array.isArray(r)) throw new Error('not an object');
        if (typeof r.t !== 'number' || !Number.isFinite(r.t)) badT = badT ?? lineNo;
        records.push(r as LogRecord);
      } catch {
        pendingBad = { line: lineNo, text: line };
      }
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw fileError(err, 'read log', path);
  }
  if (badT !== undefined) throw new UsageError(`corrupt log ${path}: line ${badT} has no time (a number t)`);
  if (pendingBad) {
    warnings.push(`${path}: line ${pendingBad.line} is cut mid-record (the writer was stopped?); read ${records.length} records before it`);
  }
  return { header, records, warnings };
}
