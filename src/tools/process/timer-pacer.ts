// The timer-paced reader of the root's statm, for intervals under 10 ms: a small C program
// (native/proc_sampler.c) sleeps on a periodic timerfd, preads statm at every tick and writes
// the readings in batches to a FIFO (every 50 ms) that the sampling thread reads every 100 ms:
// the helper writes twice a read, so a read never comes just before a write and finds nothing
// (with equal periods it did, and took two batches late, the second after the program's exit).
// At 1 kHz the JS thread then wakes 10 times a second instead of 1000 (on a VM a wake of a JS
// thread costs ~100 µs of CPU before any work, and a full sample with status and stat read cold
// another ~300 µs). Each reading
// keeps its own time, and takes the V8 figure published nearest to it (shared.ts keeps a ring).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `make -C native` puts the helper. */
export const PACER_PATH = fileURLToPath(new URL('../../../native/build/memtrace-proc-sampler', import.meta.url));
/** Below this interval (ms) the sampling thread is paced by the helper when it is built. */
export const PACER_BELOW_MS = 10;
/**
 * How often (ms) the sampling thread takes the helper's batches (the helper writes every half of
 * it). At 1 kHz, 50 ms batches cost the thread 1.1-1.2% of a core, 100 ms 0.9-1.0%, 250 ms ~0.6%;
 * but status and stat (page faults, CPU) can only be read when a batch is taken, as of then.
 */
export const PACER_BATCH_MS = 100;

/** One statm reading taken by the helper at `t` (epoch ms). */
export interface StatmReading { t: number; resident: number; shared: number }

const RECORD = 16;

function concat(parts: Float64Array[]): Float64Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** A running helper, started by the main thread (which reaps it, so its CPU is counted as memtrace's). */
export interface PacerHelper {
  /** The FIFO the helper writes to; the sampling thread opens it with {@link TimerPacer.open}. */
  fifo: string;
  /** Kills the helper and removes its FIFO. */
  stop(): void;
}

/** Starts the helper on `pid` every `intervalMs`; null when it is not built or cannot start. */
export function startPacerHelper(pid: number, intervalMs: number): PacerHelper | null {
  if (!existsSync(PACER_PATH)) return null;
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'memtrace-pacer-'));
    const fifo = join(dir, 'statm');
    if (spawnSync(PACER_PATH, ['fifo', fifo], { stdio: 'ignore' }).status !== 0) throw new Error('no fifo');
    // It blocks in open() until the sampling thread opens the reading end.
    const child: ChildProcess = spawn(PACER_PATH, ['run', String(pid), String(Math.max(1, Math.round(intervalMs * 1000))), fifo, String(PACER_BATCH_MS / 2)], { stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
    const made = dir;
    return {
      fifo,
      stop() {
        try { child.kill('SIGKILL'); } catch { /* gone */ }
        rmSync(made, { recursive: true, force: true });
      },
    };
  } catch {
    if (dir) rmSync(dir, { recursive: true, force: true });
    return null;
  }
}

/** The sampling thread's reading end of the helper's FIFO. */
export class TimerPacer {
  // Its own ArrayBuffer (not the pool's), aligned for the typed-array views of its records.
  private buf = Buffer.alloc(64 * 1024);
  private kept = 0;
  private isConnected = false;
  private readonly started = Date.now();

  private constructor(private readonly fd: number) {}

  /** True while the helper has written nothing for two batch periods since the FIFO was opened (slow to start, or not at all). */
  get late(): boolean {
    return !this.isConnected && Date.now() - this.started > 2 * PACER_BATCH_MS;
  }

  /** Opens the FIFO without blocking; null when it cannot. */
  static open(fifo: string): TimerPacer | null {
    try {
      return new TimerPacer(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
    } catch {
      return null;
    }
  }

  /**
   * The readings that arrived since the last call, as triples (epoch ms, resident pages, shared
   * pages) in one array (no object a reading); 'ended' once the helper has closed its end (the
   * process is gone, or the helper could not start: the caller checks which).
   */
  read(): Float64Array | 'ended' {
    const batches: Float64Array[] = [];
    for (;;) {
      let n: number;
      const asked = this.buf.length - this.kept;
      try {
        n = readSync(this.fd, this.buf, this.kept, asked, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
      if (n === 0) {
        // No writer: not yet connected (give it 2 s), or gone.
        if (this.isConnected || Date.now() - this.started > 2000) return batches.length ? concat(batches) : 'ended';
        break;
      }
      this.isConnected = true;
      const total = this.kept + n;
      const records = Math.floor(total / RECORD);
      // The helper writes { double; uint32; uint32 } in host byte order: typed arrays read it as it is.
      const f64 = new Float64Array(this.buf.buffer, this.buf.byteOffset, records * 2);
      const u32 = new Uint32Array(this.buf.buffer, this.buf.byteOffset, records * 4);
      const out = new Float64Array(records * 3);
      for (let i = 0; i < records; i++) {
        out[3 * i] = f64[2 * i]!;
        out[3 * i + 1] = u32[4 * i + 2]!;
        out[3 * i + 2] = u32[4 * i + 3]!;
      }
      batches.push(out);
      const whole = records * RECORD;
      this.buf.copy(this.buf, 0, whole, total);
      this.kept = total - whole;
      // Short of a full buffer: the FIFO is drained (reading again would throw EAGAIN, an Error
      // built each time: a few % of this thread's work at 100 wakes a second).
      if (n < asked) break;
    }
    return concat(batches);
  }

  /** Closes the reading end (the helper then ends at its next write). */
  close(): void {
    try { closeSync(this.fd); } catch { /* closed */ }
  }
}
