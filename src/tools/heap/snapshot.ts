// Reads a V8 heap snapshot (.heapsnapshot JSON): live objects by constructor, and with
// allocation tracking, every live object's allocation stack plus everything allocated.
import { FrameTable, type HeapData, type StackRow } from './profile.js';

/** The parts of a .heapsnapshot memtrace reads. */
export interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; trace_function_info_fields?: string[]; trace_node_fields?: string[] } };
  nodes: number[];
  strings: string[];
  trace_function_infos?: number[];
  trace_tree?: unknown[];
}

/** Live objects of one constructor: how many and their own (shallow) bytes. */
export interface ObjectCount {
  count: number;
  bytes: number;
}

// JS objects (Arrays included: their snapshot type is 'object'), functions, regexps; the
// 'array' type is V8's internal backing stores, left out.
const OBJECT_TYPES = new Set(['object', 'closure', 'regexp']);

/**
 * Counts live objects by constructor name (JS objects and arrays, functions, regexps; strings,
 * code and V8 internals left out), from a heap snapshot.
 */
export function countObjects(snap: RawSnapshot): Map<string, ObjectCount> {
  const meta = snap.snapshot.meta;
  const F = meta.node_fields.length;
  const typeIdx = meta.node_fields.indexOf('type');
  const nameIdx = meta.node_fields.indexOf('name');
  const sizeIdx = meta.node_fields.indexOf('self_size');
  const types = meta.node_types[0];
  const out = new Map<string, ObjectCount>();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += F) {
    const type = types[nodes[i + typeIdx]!]!;
    if (!OBJECT_TYPES.has(type)) continue;
    let name = snap.strings[nodes[i + nameIdx]!] ?? '';
    if (type === 'closure') name = 'Function';
    else if (type === 'regexp') name = 'RegExp';
    if (name.startsWith('system /') || name === '') continue;
    const c = out.get(name);
    if (c) { c.count++; c.bytes += nodes[i + sizeIdx]!; } else out.set(name, { count: 1, bytes: nodes[i + sizeIdx]! });
  }
  return out;
}

/**
 * Reads a snapshot taken with allocation tracking on: each allocation stack (V8's trace tree)
 * with what it allocated since tracking started (collected objects included) and what of it
 * is still live in the snapshot. Exact, not sampled.
 */
export function readTrackedSnapshot(snap: RawSnapshot, table = new FrameTable()): HeapData & { objectsBySite: Map<number, Map<string, number>> } {
  const meta = snap.snapshot.meta;
  const fif = meta.trace_function_info_fields ?? [];
  const tnf = meta.trace_node_fields ?? [];
  const infos = snap.trace_function_infos ?? [];
  const FI = fif.length || 6;
  const fName = fif.indexOf('name'), fScript = fif.indexOf('script_name'), fScriptId = fif.indexOf('script_id'), fLine = fif.indexOf('line'), fCol = fif.indexOf('column');
  const TN = tnf.length || 5;
  const nId = tnf.indexOf('id'), nFi = tnf.indexOf('function_info_index'), nCount = tnf.indexOf('count'), nSize = tnf.indexOf('size'), nKids = tnf.indexOf('children');
  const frameOfInfo = new Map<number, number>();
  const frameOf = (fi: number): number => {
    let id = frameOfInfo.get(fi);
    if (id === undefined) {
      const b = fi * FI;
      const name = snap.strings[infos[b + fName]!] ?? '';
      const script = snap.strings[infos[b + fScript]!] ?? '';
      // script id 0 with no name: V8's builtins (get, RegExp, keys…), not an unknown script.
      id = table.id(name, script, infos[b + fLine]!, infos[b + fCol]!, !script && fScriptId >= 0 && infos[b + fScriptId] === 0);
      frameOfInfo.set(fi, id);
    }
    return id;
  };
  const stacks: StackRow[] = [];
  const stackOfTrace = new Map<number, number>();
  const walk = (flat: unknown[], path: number[]) => {
    for (let i = 0; i < flat.length; i += TN) {
      const traceId = flat[i + nId] as number;
      const fi = flat[i + nFi] as number;
      const here = [...path, frameOf(fi)];
      const count = flat[i + nCount] as number;
      const size = flat[i + nSize] as number;
      const kids = flat[i + nKids] as unknown[];
      const isRoot = path.length === 0 && (snap.strings[infos[fi * FI + fName]!] ?? '') === '(root)';
      const frames = isRoot ? [] : here;
      stackOfTrace.set(traceId, stacks.length);
      stacks.push({ frames, live: 0, liveCount: 0, alloc: size, allocCount: count });
      walk(kids, frames);
    }
  };
  walk(snap.trace_tree ?? [], []);
  const F = meta.node_fields.length;
  const traceIdx = meta.node_fields.indexOf('trace_node_id');
  const sizeIdx = meta.node_fields.indexOf('self_size');
  const typeIdx = meta.node_fields.indexOf('type');
  const nameIdx = meta.node_fields.indexOf('name');
  const types = meta.node_types[0];
  const objectsBySite = new Map<number, Map<string, number>>();
  if (traceIdx >= 0) {
    const nodes = snap.nodes;
    for (let i = 0; i < nodes.length; i += F) {
      const t = nodes[i + traceIdx]!;
      if (t === 0) continue;
      const sid = stackOfTrace.get(t);
      if (sid === undefined) continue;
      const row = stacks[sid]!;
      row.live += nodes[i + sizeIdx]!;
      row.liveCount++;
      const type = types[nodes[i + typeIdx]!]!;
      if (OBJECT_TYPES.has(type)) {
        const name = type === 'closure' ? 'Function' : type === 'regexp' ? 'RegExp' : snap.strings[nodes[i + nameIdx]!] || '(object)';
        let m = objectsBySite.get(sid);
        if (!m) { m = new Map(); objectsBySite.set(sid, m); }
        m.set(name, (m.get(name) ?? 0) + 1);
      }
    }
  }
  // Keep only stacks that allocated something; renumber objectsBySite accordingly.
  const keep: StackRow[] = [];
  const bySite = new Map<number, Map<string, number>>();
  stacks.forEach((r, i) => {
    if (r.alloc > 0 || r.live > 0) {
      const o = objectsBySite.get(i);
      if (o) bySite.set(keep.length, o);
      keep.push(r);
    }
  });
  return { frames: table.frames, stacks: keep, hasLive: true, hasAlloc: true, notes: table.notes, objectsBySite: bySite };
}
