import { fs } from './node-fs.js';
import { UsageError } from './errors.js';
const { closeSync, openSync, readSync, readdirSync, readFileSync } = fs;

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
 * Reads /proc/PID/smaps_rollup: its text, or the error code when it may not be read (the kernel
 * lets only the owner, root or CAP_SYS_PTRACE read it: statm and status are world-readable).
 */
export function readSmapsRollup(pid: number): string | { denied: string } {
  try {
    return readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'EACCES' || code === 'EPERM') return { denied: code };
    throw err;
  }
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

  private cached: Omit<ProcSample, 'rss' | 'anon' | 'file'> & { shmemPages: number } = {
    shmem: 0, swap: 0, minflt: 0, majflt: 0, cpuMs: 0, shmemPages: 0,
  };

  /**
   * Takes one sample; returns null when the process has gone. RSS and its anonymous/file split
   * come from statm at every call (~2 µs). Swap, shared memory, page faults and CPU time come
   * from status and stat, re-read only when `refresh` is set (the caller does so at most every
   * few ms, since these are rates or change slowly). `detail` adds PSS/USS from smaps_rollup
   * (costlier: the kernel walks the page tables); they are left out when the kernel denies them.
   * `statmPages` gives statm's resident and shared pages read elsewhere at the sample's time.
   */
  sample(detail = false, refresh = true, statmPages?: { resident: number; shared: number }): ProcSample | null {
    try {
      let residentPages: number, sharedPages: number;
      if (statmPages) {
        // Read by someone else at the sample's time (the timer-paced sampler): RSS as it was then.
        residentPages = statmPages.resident;
        sharedPages = statmPages.shared;
      } else {
        const statm = preadText(this.statm);
        const sp1 = statm.indexOf(' ');
        const sp2 = statm.indexOf(' ', sp1 + 1);
        const sp3 = statm.indexOf(' ', sp2 + 1);
        if (sp2 < 0) return null;
        residentPages = Number(statm.slice(sp1 + 1, sp2));
        sharedPages = Number(statm.slice(sp2 + 1, sp3));
      }
      const c = this.cached;
      if (refresh) {
        const status = preadText(this.status);
        const stat = preadText(this.stat);
        if (status.length === 0) return null;
        // Fields after the command name (which may hold spaces and parentheses).
        const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // A zombie has exited: its parent just has not collected it yet.
        if (after[0] === 'Z' || after[0] === 'X') return null;
        c.shmem = kbField(status, 'RssShmem');
        c.shmemPages = c.shmem / PAGE_SIZE;
        c.swap = kbField(status, 'VmSwap');
        c.minflt = Number(after[7]);
        c.majflt = Number(after[9]);
        c.cpuMs = ((Number(after[11]) + Number(after[12])) * 1000) / CLOCK_TICKS;
      }
      // statm's "shared" is RssFile + RssShmem and resident - shared is RssAnon: the same
      // kernel counters that status prints, read from the smaller file.
      const s: ProcSample = {
        rss: residentPages * PAGE_SIZE,
        anon: (residentPages - sharedPages) * PAGE_SIZE,
        file: Math.max(0, sharedPages - c.shmemPages) * PAGE_SIZE,
        shmem: c.shmem,
        swap: c.swap,
        minflt: c.minflt,
        majflt: c.majflt,
        cpuMs: c.cpuMs,
      };
      if (detail) {
        const roll = readSmapsRollup(this.pid);
        if (typeof roll === 'string') {
          s.pss = kbField(roll, 'Pss');
          s.uss = kbField(roll, 'Private_Clean') + kbField(roll, 'Private_Dirty');
        }
      }
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

/** Every descendant of `pid` (children, grandchildren, ...), parents before children, with its parent; `exclude`d ones and theirs left out. */
export function readDescendants(pid: number, exclude: readonly number[] = []): Array<{ pid: number; ppid: number }> {
  const out: Array<{ pid: number; ppid: number }> = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const c of readChildren(p)) {
      if (exclude.includes(c)) continue;
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
