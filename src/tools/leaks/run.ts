// Runs a program under the leak probe and collects what it measured: the program marks its
// iterations, or memtrace drives them (HTTP bursts, a fixed period). Ends with the snapshots to
// compare, or with the reason there are not enough of them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ChannelHost, type ChannelPeer } from '../../core/channel-host.js';
import { spawnTraced, type ChildExit } from '../../core/spawn.js';
import { formatDuration } from '../../core/units.js';
import type { BoundaryRecord } from '../../runtime/leaks-measure.js';
import type { LeaksProbeConfig } from '../../runtime/leaks-probe.js';
import { loadAgent, sendBurst, waitListening, type HttpTarget } from './http-load.js';

const PROBE = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), 'runtime', 'leaks-probe.js');

/** How iterations are driven. */
export type Driver =
  | { kind: 'marks'; label: string; timeoutMs: number }
  | { kind: 'http'; target: HttpTarget; requests: number; concurrency: number; timeoutMs: number }
  | { kind: 'every'; ms: number };

/** Options of {@link runMeasured}. */
export interface RunOptions {
  command: string[];
  warmup: number;
  iterations: number;
  driver: Driver;
  /** Lines for the user (progress, notes). */
  say: (line: string) => void;
  /** Every record as it arrives (for the log). */
  record: (rec: Record<string, unknown>) => void;
}

/** What a run measured. */
export interface RunOutcome {
  boundaries: BoundaryRecord[];
  marks: Array<{ label: string; epoch: number }>;
  inlineMaps: Record<string, string>;
  /** Set when the run stopped before the last measured iteration: why, in one line. */
  incomplete?: string;
  exit: ChildExit;
  /** memtrace stopped the program (SIGTERM) after measuring. */
  stoppedByUs: boolean;
  dir: string;
}

/** Runs the program and measures `warmup` + `iterations` iterations. */
export async function runMeasured(opts: RunOptions): Promise<RunOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'memtrace-leaks-'));
  const config: LeaksProbeConfig = { warmup: opts.warmup, iterations: opts.iterations, dir, label: opts.driver.kind === 'marks' ? opts.driver.label : null };
  const host = await ChannelHost.open({ config });
  const boundaries: BoundaryRecord[] = [];
  const marks: Array<{ label: string; epoch: number }> = [];
  let inlineMaps: Record<string, string> = {};
  let done = false;
  let idle = false;
  let usage: string | undefined;
  let peer: ChannelPeer | undefined;
  let resolveDone!: () => void;
  const finished = new Promise<void>((r) => { resolveDone = r; });
  host.onPeer((p) => { peer ??= p; });
  host.onMessage((m) => {
    opts.record(m);
    switch (m.ev) {
      case 'iteration': {
        const b = m as unknown as BoundaryRecord;
        boundaries.push(b);
        if (b.phase === 'measure') opts.say(`${b.k === 0 ? 'baseline' : `iteration ${b.k}/${opts.iterations}`}: heap ${(b.heapUsed / 1048576).toFixed(1)} MiB after GC${b.snapshot ? `, snapshot in ${formatDuration(b.snapshotMs ?? 0)}` : ''}`);
        break;
      }
      case 'mark': marks.push({ label: String(m.label), epoch: Number(m.epoch) }); break;
      case 'note': opts.say(`note: ${String(m.text)}`); break;
      case 'usage': usage = String(m.text); break;
      case 'idle': idle = true; break;
      case 'done': inlineMaps = (m.inlineMaps as Record<string, string>) ?? {}; done = true; resolveDone(); break;
    }
  });
  let traced;
  try {
    traced = await spawnTraced(opts.command, { env: host.environment(process.env, pathToFileURL(PROBE).href) });
  } catch (err) {
    host.close();
    throw err;
  }
  let exit: ChildExit | undefined;
  const exited = traced.exited.then((e) => { exit = e; return e; });
  const seen = () => boundaries.length - (boundaries.some((b) => b.i === 0) ? 1 : 0);
  let incomplete: string | undefined;
  const driver = opts.driver;
  const total = opts.warmup + opts.iterations;

  if (driver.kind === 'marks') {
    // Wait for the measurements; say so when no mark comes.
    const timer = setInterval(() => {}, 1 << 30);
    const deadline = (async () => {
      for (;;) {
        const before = seen();
        let tick: NodeJS.Timeout | undefined;
        const got = await Promise.race([finished.then(() => 'done'), exited.then(() => 'exit'), new Promise((r) => { tick = setTimeout(() => r('tick'), driver.timeoutMs); })]);
        // A pending tick kept memtrace alive for the whole timeout after the program had ended.
        clearTimeout(tick);
        if (got !== 'tick') return;
        if (seen() === before) {
          incomplete = before === 0
            ? `the program did not mark an iteration in ${formatDuration(driver.timeoutMs)}: call mark('${driver.label}') from memtrace/mark at the end of each iteration (or use --http, --every)`
            : `no mark('${driver.label}') for ${formatDuration(driver.timeoutMs)} after ${before} of ${total} iterations`;
          return;
        }
      }
    })();
    await deadline;
    clearInterval(timer);
  } else {
    const agent = driver.kind === 'http' ? loadAgent(driver.concurrency) : undefined;
    try {
      if (driver.kind === 'http') {
        const t0 = Date.now();
        await waitListening(driver.target, () => {
          if (exit) return `the program exited (code ${exit.code ?? exit.signal}) before it listened on ${driver.target.host}:${driver.target.port}`;
          if (Date.now() - t0 > driver.timeoutMs) return `nothing listened on ${driver.target.host}:${driver.target.port} within ${formatDuration(driver.timeoutMs)}`;
          return undefined;
        });
        opts.say(`the program listens on ${driver.target.url.host}: ${driver.requests} requests per iteration, ${driver.concurrency} at a time`);
      }
      // The probe must be connected before the first command.
      while (!peer && !exit) await new Promise((r) => setTimeout(r, 20));
      if (!peer) throw new Error('no probe');
      let n = 0;
      for (let i = 0; i < total && !exit && !done; i++) {
        if (driver.kind === 'http') {
          const failed = await sendBurst(driver.target, n, driver.requests, driver.concurrency, agent!);
          n += driver.requests;
          if (failed === driver.requests) { incomplete = `all ${failed} requests of iteration ${i + 1} failed (the server stopped answering)`; break; }
        } else {
          await Promise.race([new Promise((r) => setTimeout(r, driver.ms)), exited]);
          if (exit) break;
        }
        await peer.request('measure');
      }
    } catch (err) {
      if ((err as Error).name === 'UsageError') incomplete = (err as Error).message;
      else if (!exit) incomplete = `the probe stopped answering: ${(err as Error).message}`;
    } finally {
      agent?.destroy();
    }
  }
  if (usage) incomplete = usage;
  if (!done && !incomplete) {
    const e = exit ?? (await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 200))]));
    const how = e ? (e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`) : 'stopped';
    incomplete = idle || e
      ? `the program ${idle ? 'ran out of work' : how} after ${seen()} of ${total} iterations (${opts.warmup} warm-up + ${opts.iterations} measured): not enough to judge`
      : `the measurements stopped after ${seen()} of ${total} iterations`;
    if (peer === undefined && e) incomplete = `the program ${how} without loading the probe: memtrace leaks measures node programs (it preloads itself with NODE_OPTIONS)`;
  }
  let stoppedByUs = false;
  if (!exit) {
    // A program that marks its own iterations ends when it ends (its exit code is kept);
    // one memtrace drives, or one that stopped marking, is stopped once measured.
    if (done && driver.kind === 'marks') await exited;
    if (!exit) {
      stoppedByUs = true;
      try { traced.child.kill('SIGTERM'); } catch { /* gone */ }
      const killer = setTimeout(() => { try { traced.child.kill('SIGKILL'); } catch { /* gone */ } }, 5000);
      await exited;
      clearTimeout(killer);
    }
  }
  host.close();
  return { boundaries, marks, inlineMaps, incomplete, exit: exit!, stoppedByUs, dir };
}
