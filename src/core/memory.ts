import { closeSync, openSync, readSync, readdirSync, readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

/** Bytes per page, as the kernel counts RSS in /proc/PID/statm. */
export const PAGE_SIZE = 4096;
/** Kernel clock ticks per second, the unit of CPU times in /proc/PID/stat. */
export const CLOCK_TICKS = 100;

/** One reading of a process's memory, as the kernel offers it cheaply (sizes in bytes). */
export interface ProcSample {
  /** Resident set size. */
  rss: number;
  /** Resident anonymous memory (heap, stacks, JS heap, native allocations). */
  anon: number;
  /** Resident file-backed memory (code, mapped files). */
  file: number;
  /** Resident shared memory (shm, tmpfs mappings). */
  shmem: number;
  /** Swapped-out anonymous memory. */
  swap: number;
  /** Cumulative minor page faults. */
  minflt: number;
  /** Cumulative major page faults. */
  majflt: number;
  /** Cumulative CPU time, user plus system, in ms. */
  cpuMs: number;
  /** Proportional set size (only with detail). */
  pss?: number;
  /** Unique set size: private clean + private dirty (only with detail). */
  uss?: number;
}

const buf = Buffer.alloc(4096);

function preadText(fd: number): string {
  const n = readSync(fd, buf, 0, buf.length, 0);
  return buf.toString('latin1', 0, n);
}

function kbField(text: string, name: string): number {
  const i = text.indexOf(name + ':');
  if (i < 0) return 0;
  return parseInt(text.slice(i + name.length + 1), 10) * 1024;
}

/** Explains why process `pid` cannot be read, as a UsageError. */
export function processError(err: unknown, pid: number): UsageError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ESRCH') return new UsageError(`no process with PID ${pid}`);
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`cannot read process ${pid}: permission denied`);
  return new UsageError(`cannot read process ${pid}: ${(err as Error)?.message ?? err}`);
}

/**
 * Reads one process's memory through kept-open /proc files (a pread each, ~2 µs), so that
 * sampling at 1 kHz stays cheap. Throws ProcessGone once the process has exited.
 */
export class ProcReader {
  private statm: number;
  private stat: number;
  private status: number;
  private closed = false;

  /** Opens /proc/PID; throws UsageError naming the problem when the PID is absent or unreadable. */
  constructor(readonly pid: number) {
    const base = `/proc/${pid}`;
    try {
      this.statm = openSync(`${base}/statm`, 'r');
      this.stat = openSync(`${base}/stat`, 'r');
      this.status = openSync(`${base}/status`, 'r');
      // Reading proves we may: /proc of another user's process can open but refuse reads.
      preadText(this.status);
    } catch (err) {
      this.close();
      throw processError(err, pid);
    }
  }

  /** Takes one sample; `detail` adds PSS/USS from smaps_rollup (costlier: the kernel walks the page tables). Returns null when the process has gone. */
  sample(detail = false): ProcSample | null {
    try {
      const statm = preadText(this.statm);
      const status = preadText(this.status);
      const stat = preadText(this.stat);
      const sm = statm.split(' ');
      const rss = Number(sm[1]) * PAGE_SIZE;
      // Fields after the command name (which may hold spaces and parentheses).
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A zombie has exited: its parent just has not collected it yet.
      if (after[0] === 'Z' || after[0] === 'X') return null;
      const s: ProcSample = {
        rss,
        anon: kbField(status, 'RssAnon'),
        file: kbField(status, 'RssFile'),
        shmem: kbField(status, 'RssShmem'),
        swap: kbField(status, 'VmSwap'),
        minflt: Number(after[7]),
        majflt: Number(after[9]),
        cpuMs: ((Number(after[11]) + Number(after[12])) * 1000) / CLOCK_TICKS,
      };
      if (detail) {
        const roll = readFileSync(`/proc/${this.pid}/smaps_rollup`, 'latin1');
        s.pss = kbField(roll, 'Pss');
        s.uss = kbField(roll, 'Private_Clean') + kbField(roll, 'Private_Dirty');
      }
      if (status.length === 0 || sm.length < 2) return null;
      return s;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException)?.code;
      if (code === 'ESRCH' || code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Closes the kept-open files. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of [this.statm, this.stat, this.status]) {
      if (fd !== undefined) try { closeSync(fd); } catch { /* already gone */ }
    }
  }
}

/** The command line of `pid` as an argv array, or [] when it cannot be read (exited, kernel thread). */
export function readCmdline(pid: number): string[] {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((s, i, a) => s.length > 0 || i < a.length - 1);
  } catch {
    return [];
  }
}

/** Direct children of `pid` (all its threads' children), from /proc/PID/task/TID/children. */
export function readChildren(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim();
      if (text) for (const c of text.split(' ')) out.push(Number(c));
    } catch { /* thread gone */ }
  }
  return out;
}

/** Every descendant of `pid` (children, grandchildren, ...), parents before children, with its parent. */
export function readDescendants(pid: number): Array<{ pid: number; ppid: number }> {
  const out: Array<{ pid: number; ppid: number }> = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const c of readChildren(p)) {
      out.push({ pid: c, ppid: p });
      queue.push(c);
    }
  }
  return out;
}

/** True when a process with this PID exists (zombies included). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
