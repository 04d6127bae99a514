// One snapshot turned into the figures detection compares: objects born since tracking began,
// grouped by class and allocation site; every object counted by class; collections by entries.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeapGraph, TraceFrame } from './graph.js';

/** What kind of thing a group is. */
export type GroupKind = 'object' | 'closure' | 'string' | 'native';

/** Objects of one class born after the baseline and still alive, counted in one snapshot. */
export interface GroupCount {
  kind: GroupKind;
  cls: string;
  /** The allocation site of most of the members that carry a stack (innermost frame of the program's own code). */
  site: TraceFrame | null;
  /** That site's allocation stack, innermost first (up to a few frames). */
  stack: TraceFrame[];
  /** Members with an allocation stack, by site (`file:line:col`). */
  sites: Map<string, { site: TraceFrame | null; stack: TraceFrame[]; count: number; samples: number[] }>;
  count: number;
  bytes: number;
  /** Up to a few node indices of members, newest (highest id) first. */
  samples: number[];
}

/** A collection (Map, Set, Array, dictionary-like object) and its entries in one snapshot. */
export interface CollectionCount {
  id: number;
  node: number;
  cls: string;
  entries: number;
  /** Entries whose target was born after the baseline (replaced or added during the measured iterations). */
  fresh: number;
  bytes: number;
}

/** The figures of one snapshot. */
export interface Measurement {
  /** By `kind|class`. */
  groups: Map<string, GroupCount>;
  /** Every object by class (`kind|class`), whether born before tracking began or after. */
  classes: Map<string, { count: number; bytes: number }>;
  /** Collections with at least {@link MIN_ENTRIES} entries, by object id. */
  collections: Map<number, CollectionCount>;
  /** Total self size of every node. */
  heapBytes: number;
  hasTraces: boolean;
}

/** Collections smaller than this are not followed between snapshots. */
export const MIN_ENTRIES = 8;
const SAMPLES = 6;
const TOOL_DIR = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** The kind and class of node `i`, or null for V8 internals, numbers and code. */
export function classify(g: HeapGraph, i: number): { kind: GroupKind; cls: string } | null {
  const type = g.type(i);
  switch (type) {
    case 'object': {
      const name = g.name(i);
      if (name.startsWith('system /') || name === '') return null;
      return { kind: 'object', cls: name };
    }
    case 'closure': return { kind: 'closure', cls: `closure ${g.name(i) || '(anonymous)'}` };
    case 'regexp': return { kind: 'object', cls: 'RegExp' };
    case 'string': case 'concatenated string': case 'sliced string': return { kind: 'string', cls: '(string)' };
    case 'native': {
      const name = g.name(i);
      if (/ArrayBufferData|backing.?store|ExternalString/i.test(name)) return { kind: 'native', cls: name };
      return null;
    }
    default: return null;
  }
}

/** True for a frame of memtrace's own code (its probe, the scenario runner). */
export function isToolFrame(f: TraceFrame): boolean {
  const path = f.url.startsWith('file://') ? decodeURIComponent(f.url.slice(7)) : f.url;
  return path.startsWith(TOOL_DIR + '/');
}

/** True for a frame of the program's own code (not node internals, a package, or memtrace). */
export function isUserFrame(f: TraceFrame): boolean {
  const url = f.url;
  if (!url || url.startsWith('node:') || !/^(file:|\/)/.test(url)) return false;
  if (url.includes('/node_modules/')) return false;
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
  return !path.startsWith(TOOL_DIR + '/');
}

/** The site to charge an allocation stack to: the innermost user frame, else the innermost frame with a script. */
export function siteOf(stack: TraceFrame[]): TraceFrame | null {
  return stack.find(isUserFrame) ?? stack.find((f) => f.url) ?? stack[0] ?? null;
}

/** The nodes a collection holds: Map/Set table slots, array elements, a dictionary's properties. */
export function entryTargets(g: HeapGraph, i: number): number[] {
  const name = g.name(i);
  if (g.type(i) !== 'object') return [];
  const out: number[] = [];
  if (name === 'Map' || name === 'Set') {
    const table = g.edges(i).find((e) => e.type === 'internal' && e.name === 'table');
    if (!table) return out;
    for (const e of g.edges(table.to)) if (e.name !== 'map' && g.type(e.to) !== 'hidden') out.push(e.to);
    return out;
  }
  if (name === 'Array') {
    for (const e of g.edges(i)) if (e.type === 'element') out.push(e.to);
    return out;
  }
  if (name === 'Object') {
    for (const e of g.edges(i)) if (e.type === 'property' && e.name !== '__proto__') out.push(e.to);
  }
  return out;
}

/** Entries of a collection node (a Map's key and value count as one entry). */
export function entriesOf(g: HeapGraph, i: number): number {
  const name = g.name(i);
  if (name === 'Map' || name === 'Set') return Math.max(0, g.collectionSize(i));
  return entryTargets(g, i).length;
}

/** The largest object id in a snapshot: objects with higher ids in a later snapshot of the same process were born after it. */
export function maxId(g: HeapGraph): number {
  let m = 0;
  // Heap objects have odd ids from one counter; even ids are V8's hashes of native and
  // synthetic nodes, unrelated to age.
  for (let i = 0; i < g.nodeCount; i++) { const id = g.id(i); if (id % 2 === 1 && id > m) m = id; }
  return m;
}

/**
 * Reads the figures of one snapshot. Groups hold the objects born after `bornAfter` (an object id)
 * or, in a snapshot with allocation stacks, the objects allocated while tracking was on.
 */
export function measure(g: HeapGraph, bornAfter = Infinity): Measurement {
  const groups = new Map<string, GroupCount>();
  const classes = new Map<string, { count: number; bytes: number }>();
  const collections = new Map<number, CollectionCount>();
  const siteCache = new Map<number, { key: string; site: TraceFrame | null; stack: TraceFrame[] }>();
  let heapBytes = 0;
  for (let i = 0; i < g.nodeCount; i++) {
    const self = g.selfSize(i);
    heapBytes += self;
    const c = classify(g, i);
    if (!c) continue;
    const bytes = c.kind === 'object' ? self + nativeOwned(g, i) : self;
    const ck = `${c.kind}|${c.cls}`;
    const tot = classes.get(ck);
    if (tot) { tot.count++; tot.bytes += bytes; } else classes.set(ck, { count: 1, bytes });
    if (c.kind === 'object' && (g.edgeCount(i) >= MIN_ENTRIES || c.cls === 'Map' || c.cls === 'Set')) {
      const targets = entryTargets(g, i);
      // Not targets/2 for a Map: a small-integer key or value has no node, so the pairs are counted by slot.
      const entries = c.cls === 'Map' || c.cls === 'Set' ? Math.max(0, g.collectionSize(i)) : targets.length;
      if (entries >= MIN_ENTRIES) {
        let fresh = 0;
        for (const t of targets) if (g.id(t) > bornAfter || g.traceNode(t)) fresh++;
        if (c.cls === 'Map' && targets.length) fresh = Math.min(entries, Math.ceil(fresh * entries / targets.length));
        collections.set(g.id(i), { id: g.id(i), node: i, cls: c.cls, entries, fresh, bytes: g.retainedSize(i) });
      }
    }
    const trace = g.traceNode(i);
    // Native backing stores count with the object that owns them (nativeOwned).
    if (c.kind === 'native') continue;
    if (!trace && !(g.id(i) > bornAfter && g.id(i) % 2 === 1)) continue;
    const key = ck;
    let grp = groups.get(key);
    if (!grp) { grp = { kind: c.kind, cls: c.cls, site: null, stack: [], sites: new Map(), count: 0, bytes: 0, samples: [] }; groups.set(key, grp); }
    if (trace) {
      let s = siteCache.get(trace);
      if (!s) {
        const stack = g.stack(trace);
        const site = siteOf(stack);
        s = { key: site ? `${site.url}:${site.line}:${site.col}` : '?', site, stack: stack.slice(0, 8) };
        siteCache.set(trace, s);
      }
      let at = grp.sites.get(s.key);
      if (!at) { at = { site: s.site, stack: s.stack, count: 0, samples: [] }; grp.sites.set(s.key, at); }
      at.count++;
      at.samples.push(i);
      if (at.samples.length > SAMPLES * 4) keepNewest(g, at.samples);
    }
    grp.count++;
    grp.bytes += bytes;
    grp.samples.push(i);
    if (grp.samples.length > SAMPLES * 4) keepNewest(g, grp.samples);
  }
  for (const grp of groups.values()) {
    keepNewest(g, grp.samples);
    let best: { site: TraceFrame | null; stack: TraceFrame[]; count: number; samples: number[] } | undefined;
    for (const v of grp.sites.values()) { keepNewest(g, v.samples); if (!best || v.count > best.count) best = v; }
    // Members from the main site explain the group best (their path is the leak's).
    if (best) { grp.site = best.site; grp.stack = best.stack; grp.samples = [...best.samples, ...grp.samples.filter((x) => !best!.samples.includes(x))].slice(0, SAMPLES * 2); }
  }
  return { groups, classes, collections, heapBytes, hasTraces: g.hasTraces };
}

/** Bytes of the native backing stores an object points at directly (an ArrayBuffer's data). */
function nativeOwned(g: HeapGraph, i: number): number {
  let n = 0;
  for (const e of g.edges(i)) if (e.type !== 'weak' && g.type(e.to) === 'native') n += g.selfSize(e.to);
  return n;
}

function keepNewest(g: HeapGraph, samples: number[]): void {
  samples.sort((a, b) => g.id(b) - g.id(a) || 0);
  samples.length = Math.min(samples.length, SAMPLES);
}
