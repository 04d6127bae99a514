// The timer-paced reader of the root's statm, for intervals under 10 ms: a small C program
// (native/proc_sampler.c) sleeps on a periodic timerfd, preads statm at every tick and writes
// the readings in batches to a FIFO that the sampling thread reads every 10 ms. At 1 kHz the
// JS thread then wakes 100 times a second instead of 1000 (each Atomics.wait wake is two futex
// calls and a return into V8).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `make -C native` puts the helper. */
export const PACER_PATH = fileURLToPath(new URL('../../../native/build/memtrace-proc-sampler', import.meta.url));
/** Below this interval (ms) the sampling thread is paced by the helper when it is built. */
export const PACER_BELOW_MS = 10;
/** How often (ms) the sampling thread takes the helper's batches. */
export const PACER_BATCH_MS = 10;

/** One statm reading taken by the helper at `t` (epoch ms). */
export interface StatmReading { t: number; resident: number; shared: number }

const RECORD = 16;

/** A running helper and the read end of its FIFO. */
export class TimerPacer {
  private buf = Buffer.alloc(64 * 1024);
  private kept = 0;
  private connected = false;
  private readonly started = Date.now();

  private constructor(private readonly fd: number, private readonly dir: string, private readonly child: ChildProcess) {}

  /** Starts the helper on `pid` every `intervalMs`; null when it is not built or cannot start. */
  static start(pid: number, intervalMs: number): TimerPacer | null {
    if (!existsSync(PACER_PATH)) return null;
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(tmpdir(), 'memtrace-pacer-'));
      const fifo = join(dir, 'statm');
      if (spawnSync(PACER_PATH, ['fifo', fifo], { stdio: 'ignore' }).status !== 0) throw new Error('no fifo');
      // Opened first, non-blocking: the helper's blocking open for writing then succeeds at once.
      const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const child = spawn(PACER_PATH, ['run', String(pid), String(Math.max(1, Math.round(intervalMs * 1000))), fifo], { stdio: 'ignore' });
      child.on('error', () => {});
      child.unref();
      return new TimerPacer(fd, dir, child);
    } catch {
      if (dir) rmSync(dir, { recursive: true, force: true });
      return null;
    }
  }

  /**
   * The readings that arrived since the last call; 'ended' once the helper has closed its end
   * (the process is gone, or the helper could not start: the caller checks which).
   */
  read(): StatmReading[] | 'ended' {
    const out: StatmReading[] = [];
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, this.kept, this.buf.length - this.kept, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
      if (n === 0) {
        // No writer: not yet connected (give it 2 s), or gone.
        if (this.connected || Date.now() - this.started > 2000) return out.length ? out : 'ended';
        break;
      }
      this.connected = true;
      const total = this.kept + n;
      const whole = total - (total % RECORD);
      for (let off = 0; off < whole; off += RECORD) {
        out.push({ t: this.buf.readDoubleLE(off), resident: this.buf.readUInt32LE(off + 8), shared: this.buf.readUInt32LE(off + 12) });
      }
      this.buf.copy(this.buf, 0, whole, total);
      this.kept = total - whole;
    }
    return out;
  }

  /** Stops the helper and removes its FIFO. */
  close(): void {
    try { this.child.kill('SIGKILL'); } catch { /* gone */ }
    try { closeSync(this.fd); } catch { /* closed */ }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
