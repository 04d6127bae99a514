// The heap log: frames and stacks as JSON Lines records, and back.
import { CorruptLogError, type LogContents, type LogRecord } from '../../core/log.js';
import type { MemoryPoint, PeakPoint } from '../../runtime/heap-moments.js';
import type { Frame, HeapData } from './profile.js';

/** The memory of the program at the start, the highest JS heap plus external, and the end. */
export interface MemorySummary {
  start: MemoryPoint;
  peak: PeakPoint;
  end: MemoryPoint;
}

/** The moment the log's stacks were read at. */
export interface MomentInfo {
  kind: 'exit' | 'peak' | 'signal' | 'mark' | 'every';
  label?: string;
  t: number;
  gc: boolean;
  memory: MemoryPoint;
}

/** One profile of a series (--every): bytes by stack id of the log at time t. */
export interface SeriesPoint {
  t: number;
  memory: MemoryPoint;
  /** [stack id, JS heap bytes, external bytes] */
  values: Array<[number, number, number]>;
}

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
  memory?: MemorySummary;
  moment?: MomentInfo;
  /** Why the moment shown is not the one asked for. */
  momentNote?: string;
}

/** The records of a heap log after its header: frames, stacks, notes, then the end. */
export function heapRecords(data: HeapData, end: Omit<EndRecord, 'ev' | 'hasLive' | 'hasAlloc'>,
  series: Array<{ t: number; memory: MemoryPoint; data: HeapData }> = []): LogRecord[] {
  const out: LogRecord[] = [];
  // The series' stacks share the frame table: each is found (or added, with no bytes) among the log's stacks.
  const index = new Map(data.stacks.map((s, i) => [s.frames.join(','), i]));
  const points: SeriesPoint[] = series.map((p) => ({
    t: p.t, memory: p.memory,
    values: p.data.stacks.map((s): [number, number, number] => {
      const key = s.frames.join(',');
      let i = index.get(key);
      if (i === undefined) {
        i = data.stacks.length;
        index.set(key, i);
        data.stacks.push({ frames: s.frames, live: 0, liveCount: 0, alloc: 0, allocCount: 0 });
      }
      return [i, Math.round(data.hasLive ? s.live : s.alloc), Math.round((data.hasLive ? s.extLive : s.extAlloc) ?? 0)];
    }).filter((v) => v[1] > 0 || v[2] > 0),
  }));
  data.frames.forEach((f, id) => out.push({ t: 0, ev: 'frame', id, ...f }));
  for (const s of data.stacks) {
    const ext = s.extLive || s.extAlloc ? { extLive: Math.round(s.extLive ?? 0), extAlloc: Math.round(s.extAlloc ?? 0) } : {};
    out.push({ t: 0, ev: 'stack', frames: s.frames, live: Math.round(s.live), liveCount: s.liveCount, alloc: Math.round(s.alloc), allocCount: s.allocCount, ...ext });
  }
  for (const p of points) out.push({ t: p.t, ev: 'point', memory: p.memory, values: p.values });
  for (const n of data.notes) out.push({ t: 0, ev: 'note', text: n });
  out.push({ ...end, ev: 'end', hasLive: data.hasLive, hasAlloc: data.hasAlloc, hasExternal: !!data.hasExternal });
  return out;
}

/** Reads a heap log back into frames and stacks, and its end record. */
export function heapDataFromLog(log: LogContents): { data: HeapData; end: EndRecord | undefined; points: SeriesPoint[] } {
  const frames: Frame[] = [];
  const data: HeapData = { frames, stacks: [], hasLive: false, hasAlloc: false, notes: [] };
  let end: EndRecord | undefined;
  const isId = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 24;
  const points: SeriesPoint[] = [];
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
          ...(r.extLive !== undefined || r.extAlloc !== undefined ? { extLive: Number(r.extLive) || 0, extAlloc: Number(r.extAlloc) || 0 } : {}),
        });
        break;
      case 'point':
        points.push({ t: r.t, memory: r.memory as MemoryPoint, values: r.values as SeriesPoint['values'] });
        break;
      case 'note':
        data.notes.push(String(r.text));
        break;
      case 'end':
        end = r as unknown as EndRecord;
        data.hasLive = !!end.hasLive;
        data.hasAlloc = !!end.hasAlloc;
        data.hasExternal = !!(end as { hasExternal?: boolean }).hasExternal;
        break;
    }
  });
  const missing = data.stacks.findIndex((st) => st.frames.some((id) => !frames[id]));
  if (missing >= 0) throw new CorruptLogError(`stack ${missing + 1} names a frame the log does not hold`);
  if (!end) {
    data.hasLive = data.stacks.some((s) => s.live > 0);
    data.hasAlloc = data.stacks.some((s) => s.alloc > 0);
  }
  return { data, end, points };
}
