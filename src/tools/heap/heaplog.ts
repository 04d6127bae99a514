// The heap log: frames and stacks as JSON Lines records, and back.
import { CorruptLogError, type LogContents, type LogRecord } from '../../core/log.js';
import type { Frame, HeapData } from './profile.js';

/** How the traced program ended, as the `end` record of a heap log holds it. */
export interface EndRecord {
  t: number;
  ev: 'end';
  reason: string;
  exitCode: number | null;
  durationMs: number;
  writeMs: number;
  hasLive: boolean;
  hasAlloc: boolean;
  memoryUsage?: NodeJS.MemoryUsage;
  /** The .heapprofile (sampled) or .heapsnapshot (exact) beside the log. */
  profile?: string;
}

/** The records of a heap log after its header: frames, stacks, notes, then the end. */
export function heapRecords(data: HeapData, end: Omit<EndRecord, 'ev' | 'hasLive' | 'hasAlloc'>): LogRecord[] {
  const out: LogRecord[] = [];
  data.frames.forEach((f, id) => out.push({ t: 0, ev: 'frame', id, ...f }));
  for (const s of data.stacks) {
    out.push({ t: 0, ev: 'stack', frames: s.frames, live: Math.round(s.live), liveCount: s.liveCount, alloc: Math.round(s.alloc), allocCount: s.allocCount });
  }
  for (const n of data.notes) out.push({ t: 0, ev: 'note', text: n });
  out.push({ ...end, ev: 'end', hasLive: data.hasLive, hasAlloc: data.hasAlloc });
  return out;
}

/** Reads a heap log back into frames and stacks, and its end record. */
export function heapDataFromLog(log: LogContents): { data: HeapData; end: EndRecord | undefined } {
  const frames: Frame[] = [];
  const data: HeapData = { frames, stacks: [], hasLive: false, hasAlloc: false, notes: [] };
  let end: EndRecord | undefined;
  const isId = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 24;
  log.records.forEach((r, i) => {
    switch (r.ev) {
      case 'frame': {
        const { t: _t, ev: _ev, id, ...f } = r as LogRecord & Frame & { id: number };
        if (!isId(id)) throw new CorruptLogError(`record ${i + 1} (a frame) has no id`);
        frames[id] = f as Frame;
        break;
      }
      case 'stack':
        if (!Array.isArray(r.frames) || !r.frames.every(isId)) throw new CorruptLogError(`record ${i + 1} (a stack) has no list of frame ids`);
        data.stacks.push({
          frames: r.frames as number[], live: Number(r.live) || 0, liveCount: Number(r.liveCount) || 0,
          alloc: Number(r.alloc) || 0, allocCount: Number(r.allocCount) || 0,
        });
        break;
      case 'note':
        data.notes.push(String(r.text));
        break;
      case 'end':
        end = r as unknown as EndRecord;
        data.hasLive = !!end.hasLive;
        data.hasAlloc = !!end.hasAlloc;
        break;
    }
  });
  const missing = data.stacks.findIndex((st) => st.frames.some((id) => !frames[id]));
  if (missing >= 0) throw new CorruptLogError(`stack ${missing + 1} names a frame the log does not hold`);
  if (!end) {
    data.hasLive = data.stacks.some((s) => s.live > 0);
    data.hasAlloc = data.stacks.some((s) => s.alloc > 0);
  }
  return { data, end };
}
