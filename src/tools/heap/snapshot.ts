// Heap snapshots for the heap tool, read by the snapshot engine (src/snapshot/): live
// objects by constructor (count, shallow, retained and native bytes), and with allocation
// tracking, every live object's allocation stack plus everything allocated.
import type { HeapGraph } from '../../snapshot/index.js';
import { FrameTable, type HeapData, type StackRow } from './profile.js';

/** Live objects of one constructor: how many and their own (shallow) bytes. */
export interface ObjectCount {
  count: number;
  bytes: number;
}

/**
 * Counts live JS objects by constructor name (objects and arrays, functions, regexps;
 * strings, code and V8 internals left out): what a program's own classes grew by.
 */
export function countObjects(graph: HeapGraph): Map<string, ObjectCount> {
  const out = new Map<string, ObjectCount>();
  for (let n = 0; n < graph.nodeCount; n++) {
    const name = jsConstructor(graph, n);
    if (name === undefined) continue;
    const c = out.get(name);
    if (c) { c.count++; c.bytes += graph.selfSize(n); } else out.set(name, { count: 1, bytes: graph.selfSize(n) });
  }
  return out;
}

// The constructor of a JS object, function or regexp; undefined for everything else.
function jsConstructor(graph: HeapGraph, n: number): string | undefined {
  const type = graph.type(n);
  if (type === 'closure') return 'Function';
  if (type === 'regexp') return 'RegExp';
  if (type !== 'object') return undefined;
  const name = graph.name(n);
  return name === '' || name.startsWith('system /') ? undefined : name;
}

/** One row of the by-constructor table: [class, count, shallow bytes, retained bytes, native bytes owned]. */
export type ClassRow = [string, number, number, number, number];

/**
 * Every class of the heap (strings, arrays, closures, code and native backing stores
 * included), biggest retained size first: DevTools' Summary view. V8's synthetic root
 * nodes are left out (they retain everything).
 */
export function classTable(graph: HeapGraph, limit = 100): ClassRow[] {
  return graph.aggregateByClass()
    .filter((a) => a.className !== '(synthetic)')
    .slice(0, limit)
    .map((a): ClassRow => [a.className, a.count, a.selfSize, a.retainedSize, a.nativeSize]);
}

/**
 * Reads a snapshot taken with allocation tracking on: each allocation stack (V8's trace tree)
 * with what it allocated since tracking started (collected objects included) and what of it
 * is still live in the snapshot. Exact, not sampled.
 */
export function readTrackedSnapshot(graph: HeapGraph, table = new FrameTable()): HeapData & { objectsBySite: Map<number, Map<string, number>> } {
  const meta = graph.raw.meta;
  const strings = graph.strings;
  const fif = meta.trace_function_info_fields ?? [];
  const tnf = meta.trace_node_fields ?? [];
  const infos = graph.raw.traceFunctionInfos;
  const FI = fif.length || 6;
  const fName = fif.indexOf('name'), fScript = fif.indexOf('script_name'), fScriptId = fif.indexOf('script_id'), fLine = fif.indexOf('line'), fCol = fif.indexOf('column');
  const TN = tnf.length || 5;
  const nId = tnf.indexOf('id'), nFi = tnf.indexOf('function_info_index'), nCount = tnf.indexOf('count'), nSize = tnf.indexOf('size'), nKids = tnf.indexOf('children');
  const frameOfInfo = new Map<number, number>();
  const frameOf = (fi: number): number => {
    let id = frameOfInfo.get(fi);
    if (id === undefined) {
      const b = fi * FI;
      const name = strings[infos[b + fName]!] ?? '';
      const script = strings[infos[b + fScript]!] ?? '';
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
      const isRoot = path.length === 0 && (strings[infos[fi * FI + fName]!] ?? '') === '(root)';
      const frames = isRoot ? [] : here;
      stackOfTrace.set(traceId, stacks.length);
      stacks.push({ frames, live: 0, liveCount: 0, alloc: size, allocCount: count });
      walk(kids, frames);
    }
  };
  walk(graph.raw.traceTree, []);
  const objectsBySite = new Map<number, Map<string, number>>();
  for (let n = 0; n < graph.nodeCount; n++) {
    const t = graph.traceNodeId(n);
    if (t === 0) continue;
    const sid = stackOfTrace.get(t);
    if (sid === undefined) continue;
    const row = stacks[sid]!;
    row.live += graph.selfSize(n);
    row.liveCount++;
    const type = graph.type(n);
    if (type === 'object' || type === 'closure' || type === 'regexp') {
      const name = type === 'closure' ? 'Function' : type === 'regexp' ? 'RegExp' : graph.name(n) || '(object)';
      let m = objectsBySite.get(sid);
      if (!m) { m = new Map(); objectsBySite.set(sid, m); }
      m.set(name, (m.get(name) ?? 0) + 1);
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
