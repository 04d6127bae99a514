// The sampling thread, shared by `memtrace process` and monitorProcess(). It paces itself with
// Atomics.wait on shared memory (a futex: ~half the CPU of a 1 ms libuv timer, and exact
// period), samples /proc, and writes the log itself, so sampling goes on while the main thread
// is busy. V8 figures come from the main thread through a ring in shared memory; a sample takes
// the one published nearest its time, and none when that is stale. Marks and other records arrive as messages, taken in every tick.
// Under 10 ms (one process, not a tree) the root's statm is read by a timer-paced helper and
// taken here in batches every 100 ms (timer-pacer.ts), when the helper is built.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { LogWriter, type LogHeader } from '../../core/log.js';
import { epochNow } from '../../runtime/marks.js';
import { TreeSampler, addV8, sampleLine, statmLines, v8Part, type SampleRecord } from './sampler.js';
import { SLOT, readRing, type TimedV8, type WorkerInit, type WorkerMessage } from './shared.js';
import { PACER_BATCH_MS, TimerPacer, type StatmReading } from './timer-pacer.js';

const init = workerData as WorkerInit & { header: LogHeader };
const port = parentPort as unknown as MessagePort;
const i32 = new Int32Array(init.shared);
const t0 = init.t0;
const round = (t: number) => Math.round(t * 1000) / 1000;

/** The V8 figures read from the ring lately, oldest first (a batch of readings spans 100 ms). */
let recent: TimedV8[] = [];
let ringRead = 0;
function takeRing(): void {
  const got = readRing(init.shared, ringRead);
  ringRead = got.count;
  if (got.figures.length) recent = recent.concat(got.figures).slice(-2 * SLOT.RING);
}
/** The figure published nearest to `t` (epoch ms), when it is no further than staleMs from it. */
function nearestV8(t: number): TimedV8 | undefined {
  // `recent` is in publication order, so in time order: the first figure at or after t, or the one before it.
  let lo = 0, hi = recent.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (recent[mid]!.t < t) lo = mid + 1; else hi = mid;
  }
  const after = recent[lo], before = recent[lo - 1];
  const best = !after || (before && t - before.t <= after.t - t) ? before : after;
  return best && Math.abs(best.t - t) <= init.staleMs ? best : undefined;
}

function run(): void {
  let sampler: TreeSampler;
  let writer: LogWriter;
  try {
    sampler = new TreeSampler(init.pid, { children: init.children, detail: init.detail, exclude: [process.pid] });
    writer = new LogWriter(init.output, init.header, 0, { keep: init.keep });
  } catch (err) {
    port.postMessage({ error: (err as Error).message, usage: (err as Error).name === 'UsageError' });
    return;
  }
  port.postMessage({ ready: true });
  const take = (m: WorkerMessage) => {
    if (typeof m.mark === 'string') writer.write({ t: round(m.t! - t0), mark: m.mark, ...(m.pid ? { pid: m.pid } : {}) });
    if (!m.record) return;
    const exiting = m.record as { t: number; exiting?: number };
    // The root says it is exiting, with its statm pages read then by its probe: its last sample
    // is of that moment, before its teardown, so a run shorter than the interval has its end
    // too. Also when a tick came between that moment and this message (a few ms under load):
    // that sample had no V8 figures yet, and readers sort samples by time (the exiting record
    // is out of order the same way). Not paced by the helper (its readings of that moment come
    // in the next batch). The root may be gone already (a tick found it reaped while this
    // message was on its way, or the sample's status and stat read found it gone): its reading
    // was taken while it lived, and goes in with the rates as they were.
    if (exiting.exiting === init.pid && m.statm && !pacer) {
      try {
        if (init.v8) takeRing();
        const before = lastRecord;
        if (ended || !tick(m.statm)) {
          ended = true;
          if (before && !init.children && !init.detail) writeReadings(before, Float64Array.of(m.statm.t, m.statm.resident, m.statm.shared), 0);
        }
      } catch { /* the process is going */ }
    }
    writer.write(m.record);
  };
  const drain = () => {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) take(m.message as WorkerMessage);
  };
  let ended = false;
  let lastRecord: SampleRecord | undefined;
  const tick = (reading?: StatmReading): boolean => {
    const now = reading?.t ?? epochNow();
    const got = sampler.sample(round(now - t0), reading);
    if (!got) return false;
    lastRecord = got.record;
    for (const e of got.events) writer.write(e);
    if (init.v8) {
      if (!reading) takeRing();
      const f = nearestV8(now);
      if (f) addV8(got.record, f.v);
    }
    writer.writeLine(sampleLine(got.record), got.record.t, got.record);
    return true;
  };
  let pacer = init.pacerFifo ? TimerPacer.open(init.pacerFifo) : null;
  // The V8 part of the lines of a batch: readings 1 ms apart mostly share the figure nearest them.
  let lastFigure: TimedV8 | undefined, lastFigurePart = '';
  const v8PartAt = (epoch: number): string => {
    const f = init.v8 ? nearestV8(epoch) : undefined;
    if (f !== lastFigure) { lastFigure = f; lastFigurePart = f ? v8Part(f.v) : ''; }
    return lastFigurePart;
  };
  /** Writes the root's samples at statm readings (triples) [from, to), with the rest of `like`, its last full sample. */
  const writeReadings = (like: SampleRecord, readings: Float64Array, from: number, to = Infinity): void => {
    const lines = statmLines(like, readings, from, to, (epoch) => round(epoch - t0), v8PartAt);
    writer.writeLines(lines.text, lines.count, lines.lastT);
  };
  /**
   * Takes the helper's readings; false once the root has gone. Drops to Atomics pacing if the
   * helper ended while the root lives. When status and stat are due (at most every 50 ms: so
   * once a batch), the batch's last reading, the one nearest the moment they are read, is a
   * full sample; the readings before it differ from the last full sample only in statm's
   * figures and go to the log as lines built from the readings (statmLines): at 1 kHz a record
   * object, a line and a buffered string a reading were most of this thread's work.
   */
  const takeBatch = (): boolean => {
    const got = pacer!.read();
    if (init.v8) takeRing();
    if (got === 'ended') {
      pacer!.close();
      pacer = null;
      return tick(); // the root is gone (null), or the helper is: sample on, paced here
    }
    // The helper is slow to give its first readings: sample here meanwhile (at the batch pace).
    if (got.length === 0 && pacer!.late) return tick();
    const count = got.length / 3;
    if (count === 0) return true;
    const at = (i: number): StatmReading => ({ t: got[3 * i]!, resident: got[3 * i + 1]!, shared: got[3 * i + 2]! });
    if (init.detail) {
      for (let i = 0; i < count; i++) if (!tick(at(i))) return false;
      return true;
    }
    const last = count - 1;
    if (lastRecord && !sampler.refreshDue(round(got[3 * last]! - t0))) {
      writeReadings(lastRecord, got, 0);
      return true;
    }
    const before = lastRecord;
    if (before) writeReadings(before, got, 0, last);
    if (tick(at(last))) return true;
    // Gone when status and stat were re-read: its last reading was taken while it lived (the
    // helper stops at the first tick that finds it gone), with the rates as they were.
    if (before) writeReadings(before, got, last);
    return false;
  };
  /**
   * At stop: the helper writes its last readings when it finds the root gone, at its next tick
   * (up to a batch of them, the program's last quarter second): take batches until it has
   * ended, for a few ticks at most (a root that lives on keeps it running).
   */
  const lastBatches = (): void => {
    const until = epochNow() + 5 * init.intervalMs + 20;
    while (pacer && takeBatch() && pacer && epochNow() < until) Atomics.wait(i32, SLOT.ACK, 0, init.intervalMs);
  };
  let next = epochNow();
  let lastFlush = next;
  let reported = false;
  let failure: string | undefined;
  while (!ended) {
    drain();
    try {
      if (!(pacer ? takeBatch() : tick())) { ended = true; break; }
    } catch (err) {
      // /proc refused a read it allowed at start: end the log there and say why.
      failure = `sampling stopped: ${(err as Error).message}`;
      ended = true;
      break;
    }
    if (writer.error && !reported) { reported = true; port.postMessage({ writeError: writer.incomplete(), count: writer.stop.records }); }
    const now = epochNow();
    if (now - lastFlush >= 1000) { writer.flush(); lastFlush = now; }
    const period = pacer ? PACER_BATCH_MS : init.intervalMs;
    next += period;
    if (next <= now) next = now + period; // fell behind (descheduled): no burst to catch up
    // Sleep until the next tick, or until the main thread asks to stop. Woken before it (a
    // message that wants a sample at once): take it, then sleep on to the tick.
    if (Atomics.load(i32, SLOT.STOP) !== 0) break;
    for (let left = next - epochNow(); !ended && left > 0 && Atomics.load(i32, SLOT.STOP) === 0; left = next - epochNow()) {
      Atomics.wait(i32, SLOT.STOP, 0, left);
      drain();
    }
    if (ended) break;
    if (Atomics.load(i32, SLOT.STOP) !== 0) { drain(); try { if (pacer) lastBatches(); else tick(); } catch { /* the last sample */ } break; }
  }
  // The watched program has gone: with waitForStop, records may still come (its exit status).
  if (ended && init.waitForStop) {
    while (Atomics.load(i32, SLOT.STOP) === 0) Atomics.wait(i32, SLOT.STOP, 0, 1000);
  }
  drain();
  pacer?.close();
  sampler.close();
  writer.close();
  Atomics.store(i32, SLOT.ACK, 1);
  Atomics.notify(i32, SLOT.ACK);
  port.postMessage({ done: true, error: failure ?? writer.incomplete(), rootGone: ended, contents: writer.contents() });
}

run();
