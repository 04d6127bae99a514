// Detection: which groups grew in every measured interval, how fast, held by whom. A group is a
// leak when its objects born during the measured iterations are still alive and keep adding up,
// and its class as a whole grows by as much (new objects that replaced as many old ones are a
// cache at capacity or a pool, not a leak) or they hang from a collection whose entries grow
// (old objects of the class died elsewhere); a collection is a leak when its entries grow.
import { SourceMaps, urlToPath } from '../../core/sourcemap.js';
import { linearFit as fit } from '../../core/stats.js';
import type { HeapGraph, PathStep, TraceFrame } from './graph.js';
import { MIN_ENTRIES, isToolFrame, type GroupCount, type Measurement } from './measure.js';
import { describeNode, holderOf, pathLabels } from './paths.js';

/** A group of objects that grows: one class from one allocation site. */
export interface GrowingGroup {
  kind: string;
  cls: string;
  /** `file:line:col` of the allocation (through source maps), or null when the snapshots carry no stacks. */
  site: string | null;
  /** The function allocating, when known. */
  fn: string | null;
  /** The allocation stack, innermost first, as `fn (file:line:col)`. */
  stack: string[];
  /** Live members at each snapshot. */
  counts: number[];
  bytes: number[];
  perIteration: number;
  bytesPerIteration: number;
}

/** One leak: what grows, who holds it, how fast, how sure. */
export interface Leak {
  /** What a person reads first, e.g. "Map (700 entries) +100 entries/iteration". */
  title: string;
  /** The holder: the collection or object the growing things hang from. */
  holder: string;
  /** Retainer path from a GC root to the growing thing, one label per step. */
  path: string[];
  /** Its end from the variable that holds it (what a person looks for), or the last steps. */
  shortPath: string[];
  /** Bytes the holder keeps alive at the last snapshot. */
  retainedSize: number;
  /** Entries of the holder per snapshot, when it is a growing collection. */
  entries: number[] | null;
  entriesPerIteration: number | null;
  groups: GrowingGroup[];
  objectsPerIteration: number;
  bytesPerIteration: number;
  totalObjects: number;
  totalBytes: number;
  /** Measured intervals in which it grew, and how many were measured. */
  grew: number;
  measured: number;
}

/** Something that moved but is not a leak, and why. */
export interface NonLeak {
  what: string;
  why: string;
  counts: number[];
}

/** The verdict of a leak search. */
export interface LeakAnalysis {
  leaks: Leak[];
  considered: NonLeak[];
  /** Iteration of each snapshot (0 = the baseline after warm-up). */
  positions: number[];
  /** Heap figures of the snapshots (sum of node sizes). */
  heapBytes: number[];
  hasSites: boolean;
  notes: string[];
}

/** Options of {@link detect}. */
export interface DetectOptions {
  /** The largest object id of the baseline snapshot: objects above it were born during the measured iterations. */
  bornAfter?: number;
  /** Inline source maps by script URL (code transformed in memory). */
  inlineMaps?: Record<string, string>;
  /** Apply source maps (default true). */
  sourceMaps?: boolean;
}

interface Series { counts: number[]; bytes: number[] }

function seriesOf<T>(ms: Measurement[], get: (m: Measurement) => T | undefined, count: (t: T) => number, bytes: (t: T) => number): Series {
  return { counts: ms.map((m) => { const t = get(m); return t ? count(t) : 0; }), bytes: ms.map((m) => { const t = get(m); return t ? bytes(t) : 0; }) };
}

function grewIn(values: number[]): number {
  let n = 0;
  for (let k = 1; k < values.length; k++) if (values[k]! > values[k - 1]!) n++;
  return n;
}

/**
 * Finds the leaks across snapshots of one process: `ms[k]` measured at iteration `positions[k]`,
 * `last` the graph of the last snapshot (for paths and holders).
 */
export function detect(ms: Measurement[], positions: number[], last: HeapGraph, opts: DetectOptions = {}): LeakAnalysis {
  const intervals = ms.length - 1;
  const maps = new SourceMaps(opts.inlineMaps ?? {});
  const mapFrame = (f: TraceFrame): string => {
    const path = urlToPath(f.url);
    const pos = path && opts.sourceMaps !== false ? maps.original(path, f.line, f.col) : undefined;
    if (pos) return `${pos.file}:${pos.line}:${pos.col}`;
    return f.url ? `${path ?? f.url}:${f.line}:${f.col}` : '(native code)';
  };
  const considered: NonLeak[] = [];
  const growing: Array<{ g: GrowingGroup; samples: number[] }> = [];
  const final = ms[ms.length - 1]!;

  // Collections whose entries grew in every interval.
  const growingCollections = new Map<number, number[]>();
  for (const [id, c] of final.collections) {
    const entries = ms.map((m) => m.collections.get(id)?.entries ?? 0);
    if (grewIn(entries) === intervals && fit(positions, entries).slope > 0) growingCollections.set(id, entries);
    else if (entries[0]! >= MIN_ENTRIES && Math.max(...entries) > Math.min(...entries)) {
      considered.push({ what: `${c.cls} of ${c.entries} entries (${describeNode(last, c.node)})`, counts: entries, why: `entries moved but did not grow in every interval (${grewIn(entries)} of ${intervals}): bounded` });
    } else if (entries.every((e) => e === entries[0]) && c.fresh >= MIN_ENTRIES) {
      considered.push({ what: `${describeNode(last, c.node)} at ${pathLabels(last, last.retainerPath(c.node)).slice(-3, -1).join(' → ')}`, counts: entries, why: `${c.entries} entries at every snapshot, ${c.fresh} of them new since the baseline: at capacity (old entries make room for new ones)` });
    }
  }

  const keys = new Set<string>();
  for (const m of ms) for (const k of m.groups.keys()) keys.add(k);
  for (const key of keys) {
    const s = seriesOf(ms, (m) => m.groups.get(key), (g) => g.count, (g) => g.bytes);
    const info = (final.groups.get(key) ?? ms.find((m) => m.groups.has(key))!.groups.get(key)) as GroupCount;
    const grew = grewIn(s.counts);
    const slope = fit(positions, s.counts).slope;
    // What memtrace's own code allocates (the probe, the scenario runner) is not the program's.
    if (info.site && isToolFrame(info.site)) continue;
    const label = `${info.cls}${info.site ? ` from ${mapFrame(info.site)}` : ''}`;
    if (grew < intervals || slope <= 0) {
      const moved = Math.max(...s.counts) - Math.min(...s.counts);
      if (moved >= 5 && s.counts[s.counts.length - 1]! > 0) {
        considered.push({ what: label, counts: s.counts, why: grew === 0 ? `born during the measured iterations, then no more (built once: a lazy singleton, warm-up)` : `grew in ${grew} of ${intervals} intervals only` });
      }
      continue;
    }
    // The class as a whole must grow too: new objects that replaced as many older ones are churn.
    const cls = seriesOf(ms, (m) => m.classes.get(`${info.kind}|${info.cls}`), (c) => c.count, (c) => c.bytes);
    const clsGrew = grewIn(cls.counts);
    const clsSlope = fit(positions, cls.counts).slope;
    // Unless the new ones hang from a collection that grows in every interval: then older
    // objects of the class died elsewhere (a backlog drained, a cache of another site evicting).
    const churn = clsGrew < intervals || clsSlope < 0.5 * slope;
    const inGrowingCollection = churn && growingCollections.has(majorityHolder(last, info.samples, opts.bornAfter)?.id ?? NaN);
    if (churn && !inGrowingCollection) {
      considered.push({ what: label, counts: s.counts, why: `${Math.round(slope)} new per iteration stayed alive, but all ${info.cls} objects went ${cls.counts[0]} → ${cls.counts[cls.counts.length - 1]}: they replaced older ones (a bounded cache at capacity, a pool)` });
      continue;
    }
    // Net growth of the class: V8 may give a new object the id of a dead one at the same
    // address, so the newborns' count can fall short; the class total cannot.
    const perIteration = inGrowingCollection ? slope : clsSlope;
    const g: GrowingGroup = {
      kind: info.kind, cls: info.cls, site: info.site ? mapFrame(info.site) : null, fn: info.site?.fn || null,
      stack: info.stack.map((f) => `${f.fn || '(anonymous)'} (${mapFrame(f)})`),
      counts: s.counts, bytes: s.bytes, perIteration, bytesPerIteration: fit(positions, s.bytes).slope * (perIteration / slope),
    };
    growing.push({ g, samples: info.samples });
  }

  // Cluster: groups whose members hang from the same holder are one leak.
  const clusters = new Map<number, { holder: number; holderName: string; path: string[]; groups: GrowingGroup[]; entries: number[] | null }>();
  growing.sort((a, b) => b.g.bytesPerIteration - a.g.bytesPerIteration);
  for (const { g, samples } of growing) {
    const h = majorityHolder(last, samples, opts.bornAfter);
    if (!h) continue;
    const key = h.holder >= 0 ? last.id(h.holder) : -last.id(h.path[h.path.length - 1]!.node);
    let c = clusters.get(key);
    if (!c) { c = { holder: h.holder, holderName: holderName(last, h.holder, h.path), path: pathLabels(last, h.path), groups: [], entries: growingCollections.get(key) ?? null }; clusters.set(key, c); }
    c.groups.push(g);
  }
  for (const [id, entries] of growingCollections) {
    if (clusters.has(id)) continue;
    const node = final.collections.get(id)!.node;
    const h = holderOf(last, node, Infinity);
    clusters.set(id, { holder: node, holderName: describeNode(last, node), path: pathLabels(last, [...h.path.slice(0, -1), ...h.path.slice(-1)]), groups: [], entries });
  }

  const leaks: Leak[] = [];
  for (const c of clusters.values()) {
    c.groups.sort((a, b) => b.bytesPerIteration - a.bytesPerIteration);
    const objectsPerIteration = c.groups.reduce((s, g) => s + g.perIteration, 0);
    const bytesPerIteration = c.groups.reduce((s, g) => s + g.bytesPerIteration, 0);
    const entriesPerIteration = c.entries ? fit(positions, c.entries).slope : null;
    const holder = c.holder >= 0 ? c.holderName : '(unreachable)';
    const main = c.groups[0];
    const title = c.entries
      ? `${holder}: +${fmtRate(entriesPerIteration!)} entries/iteration${main ? `, holding ${main.cls}${fromSite(main)}` : ''}`
      : `${main!.cls}${fromSite(main!)}: +${fmtRate(main!.perIteration)}/iteration, held by ${holder}`;
    leaks.push({
      title, holder, path: c.path, shortPath: shortPath(c.path), retainedSize: c.holder >= 0 ? last.retainedSize(c.holder) : 0,
      entries: c.entries, entriesPerIteration, groups: c.groups, objectsPerIteration, bytesPerIteration,
      totalObjects: c.groups.reduce((s, g) => s + g.counts[g.counts.length - 1]!, 0),
      totalBytes: c.groups.reduce((s, g) => s + g.bytes[g.bytes.length - 1]!, 0),
      grew: intervals, measured: intervals,
    });
  }
  leaks.sort((a, b) => b.bytesPerIteration - a.bytesPerIteration || b.retainedSize - a.retainedSize);
  considered.sort((a, b) => Math.max(...b.counts) - Math.max(...a.counts));
  return {
    leaks, considered: considered.slice(0, 12), positions, heapBytes: ms.map((m) => m.heapBytes),
    hasSites: ms.some((m) => m.hasTraces), notes: maps.notes,
  };
}

/** The holder most of a group's first few members hang from (the newest one may still sit in a local), with its object id. */
function majorityHolder(last: HeapGraph, samples: number[], bornAfter = Infinity): (ReturnType<typeof holderOf> & { id: number }) | undefined {
  let h: ReturnType<typeof holderOf> | undefined;
  const votes = new Map<number, { n: number; at: ReturnType<typeof holderOf> }>();
  for (const x of samples.slice(0, 6)) {
    const at = holderOf(last, x, bornAfter);
    if (!at.path.length) continue;
    const v = votes.get(at.holder);
    if (v) v.n++; else votes.set(at.holder, { n: 1, at });
  }
  for (const v of votes.values()) if (!h || v.n > (votes.get(h.holder)?.n ?? 0)) h = v.at;
  return h && { ...h, id: h.holder >= 0 ? last.id(h.holder) : NaN };
}

/** How the report names a holder: a closure's or module's context by the variable the path leaves it through. */
function holderName(g: HeapGraph, holder: number, path: PathStep[]): string {
  const name = describeNode(g, holder);
  if (name !== 'context') return name;
  const at = path.findIndex((s) => s.node === holder);
  const next = at >= 0 ? path[at + 1] : undefined;
  return next && next.label.endsWith(' (variable)') ? next.label : name;
}

/** The path from the last variable on it (its context first), or its last 8 steps. */
export function shortPath(path: string[]): string[] {
  for (let i = path.length - 1; i >= 0; i--) {
    if (path[i]!.endsWith('(variable)')) return path.slice(i > 0 && path[i - 1] === 'context' ? i - 1 : i);
  }
  return path.length > 8 ? path.slice(-8) : path;
}

function fmtRate(n: number): string {
  return n >= 10 ? String(Math.round(n)) : n.toFixed(1).replace(/\.0$/, '');
}

/** " from file:line:col" for a title, " allocated by (V8 API)" where V8 names no JS site ("(native code)"). */
function fromSite(g: { site?: string | null; fn?: string | null }): string {
  if (!g.site) return '';
  return g.site === '(native code)' ? ` allocated by ${g.fn || 'native code'}` : ` from ${shortSite(g.site)}`;
}

function shortSite(site: string): string {
  const slash = site.lastIndexOf('/');
  return slash >= 0 ? site.slice(slash + 1) : site;
}
