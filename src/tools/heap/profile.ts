// What a heap profile means: frames classified (user code, a package, node internals, V8,
// memtrace's own), stacks with live and allocated bytes, and the groupings the tool prints
// (by line, by function, by stack). Shared by the library, the CLI and the report.
import { dirname, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProfileNode, SamplingProfile } from '../../runtime/heap-inspector.js';
import { SourceMaps, functionLine, urlToPath } from '../../core/sourcemap.js';

/** Who a frame belongs to. `tool` is memtrace itself; its allocations are never charged to user code. */
export type FrameKind = 'user' | 'package' | 'node' | 'v8' | 'tool' | 'unknown';

/** One function frame, after source maps (lines and columns 1-based; 0 when unknown). */
export interface Frame {
  fn: string;
  file: string;
  line: number;
  col: number;
  kind: FrameKind;
  /** The npm package of a frame under node_modules. */
  pkg?: string;
  /** `file:line:col` in the generated file, when a source map moved the position. */
  generated?: string;
  /** Why the position is less than V8 gave for live scripts (kind `unknown`, or a line found by the function's name). */
  why?: string;
}

/** One distinct stack: frame ids from the outermost to the allocating function, and its bytes. */
export interface StackRow {
  frames: number[];
  /** Bytes of objects from this stack still live at the end (estimated when sampled). */
  live: number;
  /** Objects (exact) or samples (sampled). */
  liveCount: number;
  /** Bytes allocated from this stack, collected objects included (when known). */
  alloc: number;
  allocCount: number;
  /** External bytes (Buffer backing stores) from this stack still alive at the moment read, estimated. */
  extLive?: number;
  /** External bytes allocated from this stack, estimated. */
  extAlloc?: number;
}

/** A profile as memtrace reads it: frames, stacks, and what it knows (live, allocated, or both). */
export interface HeapData {
  frames: Frame[];
  stacks: StackRow[];
  /** The live column is meaningful. */
  hasLive: boolean;
  /** The allocated column is meaningful. */
  hasAlloc: boolean;
  /** Notes from reading (unreadable source maps). */
  notes: string[];
  /** External bytes were sampled (the ext columns are meaningful). */
  hasExternal?: boolean;
}

/** How to group sites: where allocated (`line`, self), every function on the stack (`function`, inclusive), or the whole `stack`. */
export type GroupBy = 'line' | 'function' | 'stack';

/** The directory of memtrace's own files (dist/): frames in it are the tool's. */
export const TOOL_DIR = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

const PSEUDO = /^\(.*\)$/;

/** The npm package a path under node_modules belongs to ("@scope/name" or "name"). */
export function packageOf(path: string): string | undefined {
  const i = path.lastIndexOf(`${sep}node_modules${sep}`);
  if (i < 0) return undefined;
  const parts = path.slice(i + 14).split(sep);
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Options of {@link FrameTable}. */
export interface FrameOptions {
  /** memtrace's own directory (frames there are the tool's). */
  toolDir?: string;
  /** Resolve positions through source maps (default true). */
  sourceMaps?: boolean;
  /** Inline source maps (data: URLs) by script URL, for code transformed in memory. */
  inlineMaps?: Record<string, string>;
}

/** Builds frames once per distinct function position, classifying and source-mapping them. */
export class FrameTable {
  readonly frames: Frame[] = [];
  private ids = new Map<string, number>();
  private maps: SourceMaps;
  private toolDir: string;

  constructor(private opts: FrameOptions = {}) {
    this.maps = new SourceMaps(opts.inlineMaps);
    this.toolDir = (opts.toolDir ?? TOOL_DIR) + sep;
  }

  /** Notes about source maps that could not be read. */
  get notes(): string[] {
    return this.maps.notes;
  }

  /** The frame id of a function at `url` (1-based line and column; 0 when V8 lost them). */
  id(fnName: string, url: string, line: number, col: number, builtin = false): number {
    const key = `${fnName}\u0000${url}\u0000${line}\u0000${col}\u0000${builtin}`;
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const frame = builtin ? { fn: fnName, file: '', line: 0, col: 0, kind: 'v8' as const } : this.classify(fnName, url, line, col);
    this.frames.push(frame);
    this.ids.set(key, this.frames.length - 1);
    return this.frames.length - 1;
  }

  private classify(fnName: string, url: string, line: number, col: number): Frame {
    const fn = fnName || '(anonymous)';
    if (!url) {
      if (PSEUDO.test(fn)) return { fn, file: '', line: 0, col: 0, kind: 'v8' };
      // A function with no script: never "node internals" (node's scripts are recorded too).
      return { fn, file: '', line: 0, col: 0, kind: 'unknown', why: 'V8 had collected its script before any profile named it' };
    }
    if (url.startsWith('node:') || !url.includes('/')) return { fn, file: url, line, col, kind: 'node' };
    const path = urlToPath(url);
    if (!path) return { fn, file: url, line, col, kind: 'user' };
    if (path.startsWith(this.toolDir)) return { fn, file: path, line, col, kind: 'tool' };
    const frame: Frame = { fn, file: path, line, col, kind: 'user' };
    if (line <= 0) {
      // V8 lost the script before the profile was read (a CommonJS module that has run): its
      // URL came from the script table; the line is found by the function's name in the source.
      const inMemory = this.maps.hasInline(path);
      const found = fnName ? functionLine(path, fnName) : undefined;
      frame.why = found ? 'line found by the function\'s name (V8 had collected the script)' : 'V8 had collected the script; its line is unknown';
      if (!found) return frame;
      frame.line = found.line;
      frame.col = found.col;
      // tsx and loaders compile in memory: the file on disk is already the original source.
      if (inMemory) return this.withPackage(frame);
      line = found.line;
      col = found.col;
    }
    if (this.opts.sourceMaps !== false) {
      const o = this.maps.original(path, line, col);
      if (o) {
        frame.generated = `${path}:${line}:${col}`;
        frame.file = o.file;
        frame.line = o.line;
        frame.col = o.col;
      }
    }
    return this.withPackage(frame);
  }

  private withPackage(frame: Frame): Frame {
    const pkg = packageOf(frame.file);
    if (pkg) { frame.kind = 'package'; frame.pkg = pkg; }
    return frame;
  }
}

/** Where one sampled object came from and what it stands for. */
export interface SampleSite {
  stack: number;
  bytes: number;
}

/** A sampling profile read into stacks, plus each sample's stack (by ordinal) for diffs. */
export interface SampledData extends HeapData {
  samples: Map<number, SampleSite>;
}

/**
 * Reads V8's sampling heap profile. `all` says the profiler kept collected objects: the bytes
 * are then "allocated", otherwise "live". Counts are of samples, not objects (a sample of a
 * small object stands for about `interval` bytes of such objects).
 */
export function readSamplingProfile(profile: SamplingProfile, all: boolean, table = new FrameTable()): SampledData {
  const stackOfNode = new Map<number, number>();
  const stacks: StackRow[] = [];
  const stackIds = new Map<string, number>();
  const walk = (node: ProfileNode, path: number[]) => {
    const cf = node.callFrame;
    let here = path;
    if (cf.functionName !== '(root)' || cf.url) {
      // scriptId 0: V8's builtins (RegExp, Array.prototype.map…), no script.
      here = [...path, table.id(cf.functionName, cf.url, cf.lineNumber + 1, cf.columnNumber + 1, !cf.url && cf.scriptId === '0')];
    }
    const key = here.join(',');
    let sid = stackIds.get(key);
    if (sid === undefined) {
      sid = stacks.length;
      stacks.push({ frames: here, live: 0, liveCount: 0, alloc: 0, allocCount: 0 });
      stackIds.set(key, sid);
    }
    stackOfNode.set(node.id, sid);
    for (const c of node.children) walk(c, here);
  };
  walk(profile.head, []);
  const samples = new Map<number, SampleSite>();
  for (const s of profile.samples) {
    const sid = stackOfNode.get(s.nodeId);
    if (sid === undefined) continue;
    // The protocol's sample size is already scaled (V8 multiplies the object's size by the
    // number of objects one sample stands for), so it is the estimate of bytes as it is.
    const bytes = s.size;
    const row = stacks[sid]!;
    if (all) { row.alloc += bytes; row.allocCount++; } else { row.live += bytes; row.liveCount++; }
    samples.set(s.ordinal, { stack: sid, bytes });
  }
  const used = stacks.filter((r) => r.live > 0 || r.alloc > 0);
  // Re-index stacks to the used ones.
  const remap = new Map<number, number>();
  stacks.forEach((r, i) => { if (r.live > 0 || r.alloc > 0) remap.set(i, remap.size); });
  for (const [k, v] of samples) samples.set(k, { stack: remap.get(v.stack)!, bytes: v.bytes });
  return { frames: table.frames, stacks: used, hasLive: !all, hasAlloc: all, notes: table.notes, samples };
}

/** The frame a stack's bytes are charged to: the innermost user or package frame; `tool` when memtrace allocated them. */
export function chargedFrame(frames: Frame[], stack: number[]): { index: number; tool: boolean } {
  for (let i = stack.length - 1; i >= 0; i--) {
    const f = frames[stack[i]!]!;
    if (f.kind === 'user' || f.kind === 'package' || f.kind === 'unknown') return { index: i, tool: false };
    if (f.kind === 'tool') return { index: i, tool: true };
  }
  for (const id of stack) {
    const f = frames[id]!;
    if (f.kind === 'node' && /inspector/.test(f.file)) return { index: -1, tool: true };
  }
  return { index: stack.length - 1, tool: false };
}

/** One row of a top table. */
export interface Site {
  /** The grouping key. */
  key: string;
  /** What people read: "file:line", a function, or a stack. */
  where: string;
  fn: string;
  live: number;
  liveCount: number;
  alloc: number;
  allocCount: number;
  extLive: number;
  extAlloc: number;
}

/** Totals of a profile: user code's bytes and memtrace's own, kept apart. */
export interface HeapTotals {
  live: number;
  liveCount: number;
  alloc: number;
  allocCount: number;
  /** Bytes allocated (or live) by memtrace itself: never charged to user code. */
  toolLive: number;
  toolAlloc: number;
  /** External bytes (Buffers) placed on stacks, live and allocated (estimated). */
  extLive: number;
  extAlloc: number;
}

/** Options of {@link groupSites}. */
export interface GroupOptions {
  by?: GroupBy;
  /** Show functions inside node_modules (and node's internals) one by one instead of one row per package. */
  expand?: boolean;
  /** Paths are shown relative to this directory. */
  cwd?: string;
}

function shortPath(file: string, cwd: string | undefined): string {
  if (!cwd || !file.startsWith('/')) return file;
  const r = relative(cwd, file);
  return r.startsWith('..') && r.split(sep).length > 4 ? file : r;
}

function frameLabel(f: Frame, expand: boolean, cwd: string | undefined): { key: string; where: string; fn: string } {
  if (f.kind === 'package' && !expand) return { key: `pkg:${f.pkg}`, where: `[${f.pkg}]`, fn: `(package ${f.pkg})` };
  if (f.kind === 'node' && !expand) return { key: 'node:', where: '[node internals]', fn: '(node:*)' };
  if (f.kind === 'unknown') return { key: `unknown:${f.fn}`, where: '[unknown script]', fn: f.fn };
  if (!f.file) return { key: `fn:${f.fn}`, where: f.fn, fn: f.fn };
  const where = f.line > 0 ? `${shortPath(f.file, cwd)}:${f.line}` : shortPath(f.file, cwd);
  return { key: where, where, fn: f.fn };
}

/** Totals of user code and of the tool. */
export function totals(data: HeapData): HeapTotals {
  const t: HeapTotals = { live: 0, liveCount: 0, alloc: 0, allocCount: 0, toolLive: 0, toolAlloc: 0, extLive: 0, extAlloc: 0 };
  for (const r of data.stacks) {
    if (chargedFrame(data.frames, r.frames).tool) { t.toolLive += r.live; t.toolAlloc += r.alloc; continue; }
    t.live += r.live; t.liveCount += r.liveCount; t.alloc += r.alloc; t.allocCount += r.allocCount;
    t.extLive += r.extLive ?? 0; t.extAlloc += r.extAlloc ?? 0;
  }
  return t;
}

/** The stack as people read it, outermost first, node internals and V8 left out, packages collapsed. */
export function stackLabels(data: HeapData, row: StackRow, opts: GroupOptions = {}): string[] {
  const { index } = chargedFrame(data.frames, row.frames);
  const out: string[] = [];
  const upto = index < 0 ? row.frames.length - 1 : index;
  for (let i = 0; i <= upto; i++) {
    const f = data.frames[row.frames[i]!]!;
    if (f.kind === 'node' || f.kind === 'v8' || f.kind === 'tool') { if (i === upto) out.push(f.fn); continue; }
    if (f.kind === 'unknown') { out.push(`${f.fn} [unknown script]`); continue; }
    const l = frameLabel(f, !!opts.expand, opts.cwd);
    const label = f.kind === 'package' && !opts.expand ? l.where : `${f.fn} ${l.where}`;
    if (out[out.length - 1] !== label) out.push(label);
  }
  return out;
}

/** Groups a profile's user-code bytes into sites, biggest first (by live bytes when known, else allocated). */
export function groupSites(data: HeapData, opts: GroupOptions = {}): Site[] {
  const by = opts.by ?? 'line';
  const sites = new Map<string, Site>();
  const add = (key: string, where: string, fn: string, r: StackRow) => {
    let s = sites.get(key);
    if (!s) { s = { key, where, fn, live: 0, liveCount: 0, alloc: 0, allocCount: 0, extLive: 0, extAlloc: 0 }; sites.set(key, s); }
    s.live += r.live; s.liveCount += r.liveCount; s.alloc += r.alloc; s.allocCount += r.allocCount;
    s.extLive += r.extLive ?? 0; s.extAlloc += r.extAlloc ?? 0;
  };
  for (const r of data.stacks) {
    const charged = chargedFrame(data.frames, r.frames);
    if (charged.tool) continue;
    if (by === 'line') {
      const f = data.frames[r.frames[charged.index]!];
      if (!f) continue;
      const l = frameLabel(f, !!opts.expand, opts.cwd);
      add(l.key, l.where, l.fn, r);
    } else if (by === 'function') {
      const seen = new Set<string>();
      for (let i = 0; i <= charged.index; i++) {
        const f = data.frames[r.frames[i]!]!;
        if (f.kind === 'node' || f.kind === 'v8' || f.kind === 'tool') continue;
        const l = frameLabel(f, !!opts.expand, opts.cwd);
        const key = `${l.fn}\u0000${l.key}`;
        if (seen.has(key)) continue;
        seen.add(key);
        add(key, l.where, l.fn, r);
      }
    } else {
      const labels = stackLabels(data, r, opts);
      const key = labels.join(' > ');
      add(key, labels.slice(-4).join(' > '), labels[labels.length - 1] ?? '', r);
    }
  }
  const order = data.hasLive ? (s: Site) => s.live + s.extLive : (s: Site) => s.alloc + s.extAlloc;
  return [...sites.values()].sort((a, b) => order(b) - order(a) || b.alloc - a.alloc);
}

/** An external (Buffer) stack as the preload samples it: [fn, url, fnLine, fnCol, callLine, callCol] frames, outermost first. */
export interface ExternalSiteIn {
  frames: Array<[string, string, number, number, number, number]>;
  live: number;
  alloc: number;
}

/**
 * Adds sampled external bytes (Buffers) to `data` as stacks of their own. Their frames are at
 * the call position inside each function (the line that made the Buffer), finer than V8's
 * function-start positions. `all` says which column the report reads.
 */
export function addExternal(data: HeapData, sites: ExternalSiteIn[], table: FrameTable): void {
  const ids = new Map<string, number>();
  for (const s of sites) {
    const frames = s.frames.map(([fn, url, , , line, col]) => table.id(fn, url, line, col));
    const key = frames.join(',');
    let i = ids.get(key);
    if (i === undefined) {
      i = data.stacks.length;
      ids.set(key, i);
      data.stacks.push({ frames, live: 0, liveCount: 0, alloc: 0, allocCount: 0, extLive: 0, extAlloc: 0 });
    }
    const row = data.stacks[i]!;
    row.extLive = (row.extLive ?? 0) + s.live;
    row.extAlloc = (row.extAlloc ?? 0) + s.alloc;
  }
  data.frames = table.frames;
  data.hasExternal = true;
}
