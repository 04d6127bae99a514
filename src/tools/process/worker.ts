// The sampling thread of monitorProcess(): samples /proc on its own event loop, so sampling goes
// on while the main thread is stuck in synchronous code, and writes the log. V8 figures come
// from the main thread through shared memory (seqlock), and only when fresh.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { LogWriter, type LogHeader } from '../../core/log.js';
import { epochNow } from '../../core/marks.js';
import { TreeSampler, addV8 } from './sampler.js';
import { SLOT, type WorkerInit } from './shared.js';

const init = workerData as WorkerInit & { header: LogHeader };
const i32 = new Int32Array(init.shared);
const f64 = new Float64Array(init.shared, SLOT.F64_OFFSET);
const t0 = init.t0;
const round = (t: number) => Math.round(t * 1000) / 1000;

let sampler: TreeSampler | undefined;
let writer: LogWriter | undefined;
try {
  sampler = new TreeSampler(init.pid, { children: init.children, detail: init.detail });
  writer = new LogWriter(init.output, init.header, 1000);
  parentPort!.postMessage({ ready: true });
} catch (err) {
  parentPort!.postMessage({ error: (err as Error).message, usage: (err as Error).name === 'UsageError' });
}

function readV8(): number[] | null {
  for (let tries = 0; tries < 4; tries++) {
    const s1 = Atomics.load(i32, SLOT.SEQ);
    if (s1 === 0 || s1 & 1) continue;
    const v = [f64[0]!, f64[1]!, f64[2]!, f64[3]!, f64[4]!];
    if (Atomics.load(i32, SLOT.SEQ) === s1) return v;
  }
  return null;
}

let stopped = false;
function tick(): void {
  if (stopped || !sampler || !writer) return;
  const now = epochNow();
  const got = sampler.sample(round(now - t0));
  if (!got) { finish(); return; }
  for (const e of got.events) writer.write(e);
  if (init.v8) {
    const v = readV8();
    if (v && now - v[0]! <= init.staleMs) addV8(got.record, { heapUsed: v[1]!, heapTotal: v[2]!, external: v[3]!, arrayBuffers: v[4]! });
  }
  writer.write(got.record);
}

const timer = setInterval(tick, init.intervalMs);
if (writer) tick();
else clearInterval(timer);

function finish(): void {
  if (stopped) return;
  // Marks posted just before the end may still be queued: take them in first.
  for (let m = receiveMessageOnPort(parentPort as unknown as MessagePort); m; m = receiveMessageOnPort(parentPort as unknown as MessagePort)) {
    onMessage(m.message as Message);
  }
  stopped = true;
  clearInterval(timer);
  sampler?.close();
  writer?.close();
  Atomics.store(i32, SLOT.ACK, 1);
  Atomics.notify(i32, SLOT.ACK);
  parentPort!.postMessage({ done: true, error: writer?.error?.message });
}

// The main thread asks for a synchronous flush from its 'exit' handler through shared memory,
// since no message can reach it any more then.
const waitAsync = (Atomics as unknown as { waitAsync?: (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string } }).waitAsync;
if (waitAsync) {
  const w = waitAsync(i32, SLOT.FLUSH, 0);
  if (w.async) (w.value as Promise<string>).then(() => { tick(); finish(); });
}

interface Message { mark?: string; t?: number; stop?: boolean }
function onMessage(m: Message): void {
  if (typeof m.mark === 'string' && writer && !stopped) writer.write({ t: round(m.t! - t0), mark: m.mark });
}
parentPort!.on('message', (m: Message) => {
  onMessage(m);
  if (m.stop) { tick(); finish(); }
});
