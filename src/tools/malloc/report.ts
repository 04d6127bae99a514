// What a malloc trace means: per-function totals, size histogram, peak, live-at-exit by call
// site, top call sites, live-bytes timeline. The trace is binary; readToolLog aggregates it
// (see format.ts) into a few summary records rather than one record per event.
import { Option } from 'commander';
import { existsSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatBytes, formatDuration, parseDuration } from '../../core/units.js';
import { UsageError } from '../../core/errors.js';
import type { LogContents, LogHeader, LogRecord } from '../../core/log.js';
import type { Report, ReportOptions, Section, Table } from '../../report/types.js';
import { speedscopeBytes } from '../../report/speedscope.js';
import { MAGIC, MAIN_MARK, readMallocLog, traceMode, type LiveWindow, type MallocAnalysis, type TraceMode, type TracePoint } from './format.js';

/** True when these first bytes are a malloc trace. */
export function sniff(head: Buffer): boolean {
  return head.length >= 8 && head.toString('latin1', 0, 8) === MAGIC;
}

/**
 * Reads a malloc trace as a header and pre-aggregated records: `function` (calls, bytes per
 * function), `size` (histogram bucket), `live` (timeline point), `site` (a call site's totals),
 * the live columns for the window `options.since`/`options.until` (a view, see {@link parseView}).
 */
export async function readToolLog(path: string, options: ReportOptions = {}): Promise<LogContents> {
  const view = parseView(options);
  const mode = traceMode(path); // checked before the events are read: a trace can be gigabytes
  if (mode) checkView(view, mode, path);
  const a = readMallocLog(path, { since: view.since, until: view.until });
  checkView(view, a.header.mode as TraceMode, path);
  return toLogContents(a);
}

/** Turns an analysis into the records {@link buildReport} reads. */
export function toLogContents(a: MallocAnalysis): LogContents {
  const records: LogRecord[] = [];
  for (const f of a.functions) records.push({ t: 0, kind: 'function', ...f });
  for (const h of a.histogram) records.push({ t: 0, kind: 'size', ...h });
  a.timeline.t.forEach((t, i) => records.push({ t, kind: 'live', bytes: a.timeline.live[i]! }));
  for (const s of a.sites) records.push({ t: 0, kind: 'site', ...s });
  for (const m of a.marks) records.push({ t: m.t, mark: m.label });
  return { header: a.header, records, warnings: a.warnings };
}

/** How call sites are grouped: by the innermost JS function of the program, by the native function that allocated, or by the whole stack. */
export type GroupBy = 'js' | 'native' | 'stack';
/** The values of --by. */
export const GROUP_BY: readonly GroupBy[] = ['js', 'native', 'stack'];

/**
 * What a malloc report shows of a trace: the grouping of call sites, start-up in the tables or
 * apart, the window of the live columns. Both `memtrace malloc` and `memtrace report` take it.
 */
export interface MallocView {
  by?: GroupBy;
  startup?: boolean;
  since?: TracePoint;
  until?: TracePoint;
}

/** The view's command-line options, for `memtrace malloc` and `memtrace report` alike. */
export function viewOptions(): Option[] {
  return [
    new Option('--by <view>', 'group call sites by the innermost JS function of the program (node), the native function that allocated, or the whole stack (default: js when stacks name JS functions, else stack; needs stacks)').choices([...GROUP_BY]),
    new Option('--since <mark|time>', 'live columns: blocks allocated from this mark (memtrace/mark) or time since the start (2s)…'),
    new Option('--until <mark|time>', '…and still live at this mark or time (default: where a node program began to exit, else its end)'),
    new Option('--startup', 'keep start-up (what node allocates before the main module runs) in the top tables (needs stacks)'),
  ];
}

/** The `memtrace report` options only malloc traces take: the view's. */
export const reportOptions: readonly string[] = viewOptions().map((o) => o.long!);

/** A --since/--until value: a time ("2s", "1500ms") since the start, else a mark's label. */
function tracePoint(value: unknown, what: string): TracePoint | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    if (!(value >= 0 && Number.isFinite(value))) throw new UsageError(`${what}: ${value} ms is not a time since the start`);
    return value;
  }
  const text = String(value);
  if (/^\s*(\d+(\.\d+)?|\.\d+)\s*[a-zA-Zµ]*\s*$/.test(text)) {
    try { return parseDuration(text, what); } catch { /* not a duration: a label */ }
  }
  if (!text.trim()) throw new UsageError(`${what}: give a mark's label or a time since the start, e.g. 2s`);
  return text;
}

/** The view asked for by options as typed (strings) or given through the API (ms, booleans); its values checked. */
export function parseView(options: { by?: unknown; startup?: unknown; since?: unknown; until?: unknown; [other: string]: unknown }): MallocView {
  const by = options.by;
  if (by !== undefined && !GROUP_BY.includes(by as GroupBy)) throw new UsageError(`--by: '${String(by)}' is not one of ${GROUP_BY.join(', ')}`);
  const since = tracePoint(options.since, '--since'), until = tracePoint(options.until, '--until');
  if (typeof since === 'number' && typeof until === 'number' && until < since) throw new UsageError('--until is before --since');
  return { by: by as GroupBy | undefined, startup: options.startup === true ? true : undefined, since, until };
}

/**
 * Refuses a view a trace of this mode cannot give: a grouping or start-up needs stacks, a
 * window needs events (count mode keeps totals only). `trace` names the trace read back;
 * without it the mode is the one a run is about to record.
 */
export function checkView(view: MallocView, mode: TraceMode, trace?: string): void {
  const refuse = (opt: string, need: 'stacks' | 'events') => {
    if (!trace) return new UsageError(`${opt} needs ${need === 'stacks' ? '--stacks' : 'events (not --count-only)'}`);
    const how = mode === 'count' ? 'with --count-only' : 'without --stacks';
    return new UsageError(`${opt}: ${trace} was recorded ${how}, it has no ${need === 'stacks' ? 'stacks (call sites)' : 'events, only totals'}`);
  };
  if (view.by !== undefined && mode !== 'stacks') throw refuse(`--by ${view.by}`, 'stacks');
  if (view.startup && mode !== 'stacks') throw refuse('--startup', 'stacks');
  if (mode === 'count' && view.since !== undefined) throw refuse('--since', 'events');
  if (mode === 'count' && view.until !== undefined) throw refuse('--until', 'events');
}

/** True for a frame of JavaScript (or Python) code, named from a perf map: "fn (file.js:12)", "fn (job.py)". */
const isJsFrame = (f: string) => /\((?:node:|[^()]*\.(?:[cm]?js|[cm]?ts|tsx|jsx|py))[^()]*\)$/.test(f);
/** memtrace's own folder: its code runs in the program (marks, the preload), named as built (dist/) or, through its source maps, as written (src/). */
const OWN_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const ownFiles = new Map<string, boolean>();
/**
 * True for a file of memtrace's own code. Frames are named relative to the folder memtrace ran
 * in, which a later report may not share: a path also counts when it passes through a folder of
 * memtrace's name, then src/ or dist/, to a file memtrace has.
 */
function isOwnFile(path: string): boolean {
  let own = ownFiles.get(path);
  if (own === undefined) {
    const file = resolve(path);
    const parts = path.split(sep);
    const at = parts.findIndex((p, i) => p === basename(OWN_ROOT) && (parts[i + 1] === 'src' || parts[i + 1] === 'dist'));
    own = ['src', 'dist'].some((d) => file.startsWith(join(OWN_ROOT, d) + sep)) || (at >= 0 && existsSync(join(OWN_ROOT, ...parts.slice(at + 1))));
    ownFiles.set(path, own);
  }
  return own;
}
/** True for a JS frame of node's own code ("allocUnsafeSlow (node:buffer:414)"), or of memtrace's code in the program (its marks, its preload). */
const isNodeInternal = (f: string) => {
  const at = /\(([^()]*?)(?::\d+)?\)$/.exec(f)?.[1];
  if (at === undefined) return false;
  return at.startsWith('node:') || isOwnFile(at);
};

/**
 * The JS function a stack is charged to: the innermost JS frame outside node's own code (its
 * callers' code when node's JS called the allocator, e.g. Buffer.alloc), else the innermost
 * JS frame, else none. Returns its index in the frames.
 */
export function jsFrameIndex(frames: string[]): number {
  const user = frames.findIndex((f) => isJsFrame(f) && !isNodeInternal(f) && !f.startsWith('(anonymous) ('));
  if (user >= 0) return user;
  const anyUser = frames.findIndex((f) => isJsFrame(f) && !isNodeInternal(f));
  return anyUser >= 0 ? anyUser : frames.findIndex(isJsFrame);
}

/**
 * Frames of a call site as one line, innermost first, "→" reading "called from". When the
 * stack reaches JavaScript, the native frames between the allocator and the first JS frame
 * are elided: "node::NodeArrayBufferAllocator::Allocate → … → Buffer.alloc → parseRecords (src/parse.js:3)".
 */
export function siteLabel(frames: string[], depth = 6): string {
  const firstJs = frames.findIndex(isJsFrame);
  if (firstJs > 1) {
    // interpreted frames all read InterpreterEntryTrampoline (node names them only with the
    // costly --interpreted-frames-native-stack): say it once
    const rest = frames.slice(firstJs).filter((f, i, a) => !(f.startsWith('InterpreterEntryTrampoline') && a[i - 1]?.startsWith('InterpreterEntryTrampoline')));
    const js = rest.slice(0, Math.max(2, depth - 2)).map((f) => (f.startsWith('InterpreterEntryTrampoline') ? '(interpreted)' : f));
    return [frames[0], '…', ...js].join(' → ') + (rest.length > js.length ? ' → …' : '');
  }
  const shown = frames.slice(0, depth);
  return shown.join(' → ') + (frames.length > depth ? ' → …' : '');
}

function sizeLabel(lo: number, hi: number): string {
  if (hi === 0) return '0 B';
  return lo === hi ? formatBytes(lo) : `${formatBytes(lo)}–${formatBytes(hi)}`;
}

const num = (n: number) => Math.round(n).toLocaleString('en-US');

interface Site { frames: string[]; calls: number; bytes: number; liveBytes: number; liveCount: number; startup?: boolean; peakBytes?: number; peakCount?: number }
/** What one native path below a JS function allocated. */
interface NativeBelow { frame: string; path: string; calls: number; bytes: number; liveBytes: number; liveCount: number; peakBytes: number; peakCount: number }
/** A row of the report: one group of call sites, shown by `label`, with its heaviest stack's frames. */
interface Group extends Site { label: string; below?: string; heaviest: number; native?: Map<string, NativeBelow> }

/** The row a call site belongs to under `by`, and the native frames below its JS function. */
function groupOf(frames: string[], by: GroupBy, depth: number): { label: string; below?: string } {
  if (by === 'native') return { label: frames[0] ?? '(no stack)' };
  if (by === 'js') {
    const i = jsFrameIndex(frames);
    if (i >= 0) {
      const native = frames.slice(0, i);
      const below = native.length <= 3 ? native : [native[0]!, '…', ...native.slice(-2)];
      return { label: frames[i]!, below: below.length ? below.join(' → ') : undefined };
    }
  }
  return { label: siteLabel(frames, depth) };
}

/** The native functions below a JS row, heaviest first. */
const nativeRows = (g: Pick<Group, 'native'>): NativeBelow[] => [...(g.native?.values() ?? [])].sort((a, b) => b.bytes - a.bytes);

/** Builds the report of a malloc trace. */
export function buildReport(log: LogContents, options: ReportOptions = {}): Report {
  const h = log.header as LogHeader & Record<string, number | string | undefined | unknown[]>;
  const top = options.top ?? 10;
  const depth = typeof options.depth === 'number' ? options.depth : 6;
  const fns = log.records.filter((r) => r.kind === 'function') as unknown as Array<{ op: string; calls: number; bytes: number }>;
  const sizes = log.records.filter((r) => r.kind === 'size') as unknown as Array<{ lo: number; hi: number; count: number }>;
  const live = log.records.filter((r) => r.kind === 'live') as unknown as Array<{ t: number; bytes: number }>;
  const marks = log.records.filter((r) => typeof r.mark === 'string' && r.mark !== MAIN_MARK) as unknown as Array<{ t: number; mark: string }>;
  const rawSites = log.records.filter((r) => r.kind === 'site') as unknown as Site[];
  const hasJs = rawSites.some((s) => jsFrameIndex(s.frames) >= 0);
  const view = parseView(options);
  const by: GroupBy = view.by ?? (hasJs ? 'js' : 'stack');
  const withStartup = view.startup === true;
  const aggregated = Boolean(h.aggregated);
  // start-up (before the main module ran) is summed apart and, by default, kept out of the tables
  const startup = { calls: 0, bytes: 0, liveBytes: 0, liveCount: 0 };
  // call sites that read the same under the grouping are one row
  const merged = new Map<string, Group>();
  for (const s of rawSites) {
    if (s.startup) {
      startup.calls += s.calls; startup.bytes += s.bytes; startup.liveBytes += s.liveBytes; startup.liveCount += s.liveCount;
      if (!withStartup) continue;
    }
    const g = groupOf(s.frames, by, depth);
    const key = (s.startup ? 'start-up\n' : '') + g.label;
    let m = merged.get(key);
    if (!m) merged.set(key, (m = { ...g, frames: s.frames, calls: s.calls, bytes: s.bytes, liveBytes: s.liveBytes, liveCount: s.liveCount, startup: !!s.startup, heaviest: s.bytes, ...(aggregated ? { peakBytes: s.peakBytes ?? 0, peakCount: s.peakCount ?? 0 } : {}) }));
    else {
      m.calls += s.calls; m.bytes += s.bytes; m.liveBytes += s.liveBytes; m.liveCount += s.liveCount;
      if (aggregated) { m.peakBytes! += s.peakBytes ?? 0; m.peakCount! += s.peakCount ?? 0; }
      if (s.bytes > m.heaviest) { m.heaviest = s.bytes; m.frames = s.frames; m.below = g.below; }
    }
    if (g.below !== undefined) { // the native function that allocated, under the JS one
      const nb = (m.native ??= new Map());
      const frame = s.frames[0]!;
      let e = nb.get(frame);
      if (!e) nb.set(frame, (e = { frame, path: g.below, calls: 0, bytes: 0, liveBytes: 0, liveCount: 0, peakBytes: 0, peakCount: 0 }));
      e.calls += s.calls; e.bytes += s.bytes; e.liveBytes += s.liveBytes; e.liveCount += s.liveCount;
      e.peakBytes += s.peakBytes ?? 0; e.peakCount += s.peakCount ?? 0;
    }
  }
  const sites = [...merged.values()];
  const window = h.liveWindow as LiveWindow | undefined;
  const liveLabel = window?.label ?? 'at exit';
  const stacks = h.mode === 'stacks';
  const counting = h.mode === 'count';
  const byBytes = [...sites].sort((a, b) => b.bytes - a.bytes).slice(0, top);
  const byCount = [...sites].sort((a, b) => b.calls - a.calls).slice(0, top);
  const unfreed = sites.filter((s) => s.liveBytes > 0).sort((a, b) => b.liveBytes - a.liveBytes).slice(0, top);
  // aggregated: each site's live bytes as copied near the peak (when the live bytes passed the last copy by 1/32)
  const atPeak = aggregated ? sites.filter((s) => (s.peakBytes ?? 0) > 0).sort((a, b) => b.peakBytes! - a.peakBytes!).slice(0, top) : [];
  const peakLabel = `at the peak (by site as of ${formatBytes(Number(h.peakCopyBytes ?? 0))} live, the last copy before the peak of ${formatBytes(Number(h.peakBytes ?? 0))})`;
  const n = (k: string) => Number(h[k] ?? 0);
  // what a row is (--by js on stacks without JS frames: whole stacks)
  const rowName = by === 'js' && hasJs ? 'JS function' : by === 'native' ? 'native function' : 'call site';

  const lines: string[] = [];
  lines.push(`memtrace malloc: ${(h.command as string[]).join(' ')} (pid ${h.pid}, ${formatDuration(n('durationMs'))}, ${h.mode} mode${aggregated ? ', aggregated' : ''}${n('minSize') ? `, events ≥ ${formatBytes(n('minSize'))}` : ''})`);
  lines.push(`  allocations ${num(n('allocations'))} (${formatBytes(n('bytesAllocated'))}), frees ${num(n('frees'))}` + (n('freeNull') ? ` + ${num(n('freeNull'))} free(NULL)` : ''));
  if (!counting) {
    lines.push(`  peak live   ${formatBytes(n('peakBytes'))} at ${formatDuration(n('peakMs'))}`);
    lines.push(`  live at ${h.endedBy === 'exit' ? 'exit' : `${formatDuration(n('stoppedAtMs'))} (the trace stops)`} ${formatBytes(n('liveAtExitBytes'))} in ${num(n('liveAtExitCount'))} blocks` + (n('unknownFrees') ? ` (${num(n('unknownFrees'))} frees of blocks allocated before tracing${n('minSize') ? ' or below --min-size' : ''})` : ''));
  }
  // a window asked for: its total, with or without stacks
  const asked = window !== undefined && (window.since !== undefined || window.until !== undefined);
  const inWindow = { liveBytes: 0, liveCount: 0 };
  for (const s of rawSites) { inWindow.liveBytes += s.liveBytes; inWindow.liveCount += s.liveCount; }
  if (asked && !counting) lines.push(`  ${liveLabel}: ${formatBytes(inWindow.liveBytes)} in ${num(inWindow.liveCount)} blocks`);
  lines.push('');
  lines.push('  function          calls          bytes');
  for (const f of fns) lines.push(`  ${f.op.padEnd(16)} ${num(f.calls).padStart(12)} ${(f.op.startsWith('free') ? '' : formatBytes(f.bytes)).padStart(14)}`);
  if (sizes.length) {
    lines.push('', '  sizes');
    const maxCount = Math.max(...sizes.map((s) => s.count));
    for (const s of sizes) lines.push(`  ${sizeLabel(s.lo, s.hi).padStart(20)} ${num(s.count).padStart(12)} ${'#'.repeat(Math.max(1, Math.round((s.count / maxCount) * 30)))}`);
  }
  if (stacks) {
    const what = rowName;
    const tag = (s: Group) => (s.startup ? '[start-up] ' : '');
    // the native functions below a JS row by what the table counts: allocated, live, or live at the peak
    const show = (title: string, list: Group[], fig: (s: Group) => string, of: 'bytes' | 'live' | 'peak' = 'bytes') => {
      if (!list.length) return;
      lines.push('', `  ${title}`);
      const pick = (nb: NativeBelow): [number, number] => (of === 'live' ? [nb.liveBytes, nb.liveCount] : of === 'peak' ? [nb.peakBytes, nb.peakCount] : [nb.bytes, nb.calls]);
      for (const s of list) {
        lines.push(`  ${fig(s).padStart(24)}  ${tag(s)}${s.label}`);
        const natives = of === 'bytes' ? nativeRows(s) : nativeRows(s).filter((nb) => pick(nb)[0] > 0).sort((a, b) => pick(b)[0] - pick(a)[0]);
        for (const nb of natives.slice(0, 3)) lines.push(`  ${''.padStart(24)}    ${formatBytes(pick(nb)[0]).padStart(10)} in ${num(pick(nb)[1]).padStart(7)}  ${nb.path}`);
      }
    };
    if (startup.calls > 0) {
      lines.push('', `  start-up (before the main module ran): ${num(startup.calls)} allocations, ${formatBytes(startup.bytes)}; ${window?.since !== undefined || window?.until !== undefined ? liveLabel : `still live ${liveLabel}`}: ${formatBytes(startup.liveBytes)}${withStartup ? '' : ' (left out of the tables below)'}`);
    }
    show(`still live ${liveLabel}, by ${what}`, unfreed, (s) => `${formatBytes(s.liveBytes)} in ${num(s.liveCount)}`, 'live');
    show(`live ${peakLabel}, by ${what}`, atPeak, (s) => `${formatBytes(s.peakBytes!)} in ${num(s.peakCount!)}`, 'peak');
    show(`top ${what}s by bytes`, byBytes, (s) => `${formatBytes(s.bytes)} in ${num(s.calls)}${by === 'js' ? `, ${formatBytes(s.liveBytes)} live` : ''}`);
    show(`top ${what}s by count`, byCount, (s) => `${num(s.calls)} calls`);
  } else if (!counting) {
    lines.push('', '  (run with --stacks for call sites)');
  }
  const images = (h.images as Array<{ pid: number; command: string[] }>) ?? [];
  if (images.length > 1) lines.push('', `  process images in this file (exec): ${images.map((i) => i.command[0]).join(' → ')}`);

  const siteRow = (s: Group) => [(s.startup ? '[start-up] ' : '') + s.label + (s.below ? ` ← ${s.below}` : ''), s.calls, s.bytes, s.liveBytes, s.liveCount];
  const siteCols = [rowName, 'calls', 'bytes', 'live bytes', 'live blocks'];
  const byteColumns = ['bytes', 'live bytes'];
  const sections: Section[] = [];
  if (!counting && live.length) {
    const chartMarks = [{ t: n('peakMs'), label: `peak ${formatBytes(n('peakBytes'))}` }, ...marks.map((m) => ({ t: m.t, label: m.mark }))];
    if (h.startupEndMs !== undefined) chartMarks.push({ t: n('startupEndMs'), label: 'main module' });
    // a window asked as a time is drawn where it begins and ends (asked as marks, it is drawn already)
    if (typeof window?.since === 'number') chartMarks.push({ t: window.fromMs, label: `--since ${formatDuration(window.fromMs)}` });
    if (typeof window?.until === 'number') chartMarks.push({ t: window.toMs, label: `--until ${formatDuration(window.toMs)}` });
    sections.push({ kind: 'chart', chart: { title: 'Live heap bytes (malloc − free)', unit: 'bytes', t: live.map((r) => r.t), series: [{ label: 'live bytes', values: live.map((r) => r.bytes) }], marks: chartMarks } });
  }
  sections.push({ kind: 'table', table: { title: 'Calls and bytes per function', columns: ['function', 'calls', 'bytes'], rows: fns.map((f) => [f.op, f.calls, f.bytes]), byteColumns } });
  sections.push({ kind: 'table', table: { title: 'Requested sizes', columns: ['size', 'calls'], rows: sizes.map((s) => [sizeLabel(s.lo, s.hi), s.count]) } });
  if (stacks) {
    const what = siteCols[0]!;
    if (startup.calls > 0) sections.push({ kind: 'table', table: { title: `Start-up (before the main module ran)${withStartup ? '' : ': left out of the tables below'}; live columns: ${asked ? liveLabel : `still live ${liveLabel}`}`, columns: ['calls', 'bytes', 'live bytes', 'live blocks'], rows: [[startup.calls, startup.bytes, startup.liveBytes, startup.liveCount]], byteColumns } });
    sections.push({ kind: 'table', table: { title: `Still live ${liveLabel}, by ${what}`, columns: siteCols, rows: unfreed.map(siteRow), byteColumns } });
    if (aggregated) sections.push({ kind: 'table', table: { title: `Live ${peakLabel}, by ${what}`, columns: [what, 'bytes at the peak', 'blocks at the peak', 'calls', 'bytes'], rows: atPeak.map((s) => [(s.startup ? '[start-up] ' : '') + s.label + (s.below ? ` ← ${s.below}` : ''), s.peakBytes!, s.peakCount!, s.calls, s.bytes]), byteColumns: ['bytes at the peak', 'bytes'] } });
    sections.push({ kind: 'table', table: { title: `Top ${what}s by bytes`, columns: siteCols, rows: byBytes.map(siteRow), byteColumns } });
    sections.push({ kind: 'table', table: { title: `Top ${what}s by count`, columns: siteCols, rows: byCount.map(siteRow), byteColumns } });
  }
  const table: Table = stacks
    ? { columns: siteCols, rows: [...sites].sort((a, b) => b.bytes - a.bytes).map(siteRow) }
    : { columns: ['t_ms', 'live_bytes'], rows: live.map((r) => [r.t, r.bytes]) };

  const row = ({ heaviest: _h, native, ...g }: Group) => ({ ...g, ...(native ? { native: nativeRows({ native }) } : {}) });
  const summary = {
    tool: 'malloc', command: h.command, pid: h.pid, mode: h.mode, minSize: n('minSize'), durationMs: n('durationMs'),
    allocations: n('allocations'), frees: n('frees'), freeNull: n('freeNull'), bytesAllocated: n('bytesAllocated'),
    peakBytes: n('peakBytes'), peakMs: n('peakMs'), liveAtExitBytes: n('liveAtExitBytes'), liveAtExitCount: n('liveAtExitCount'),
    unknownFrees: n('unknownFrees'), endedBy: h.endedBy, images, events: n('events'),
    functions: fns.map(({ op, calls, bytes }) => ({ op, calls, bytes })),
    sizes: sizes.map(({ lo, hi, count }) => ({ lo, hi, count })),
    by, liveWindow: window && { ...window, ...inWindow }, startup: { ...startup, endMs: h.startupEndMs, inTables: withStartup },
    marks: marks.map((m) => ({ t: m.t, label: m.mark })),
    unfreedBySite: unfreed.map(row), topSitesByBytes: byBytes.map(row), topSitesByCount: byCount.map(row),
    ...(aggregated ? { aggregated: true, peakCopyBytes: n('peakCopyBytes'), livePeakBySite: atPeak.map(row) } : {}),
  };
  const title = `memtrace malloc: ${(h.command as string[]).join(' ')}`;
  // whole stacks, outermost first (a flame graph is every grouping at once); start-up as the tables have it
  const kept = rawSites.filter((s) => withStartup || !s.startup);
  const stack = (s: Site) => [...(s.startup ? ['(start-up)'] : []), ...[...s.frames].reverse()];
  const speedscope = stacks ? speedscopeBytes(title, 'memtrace malloc', [
    { name: `still live ${liveLabel}`, stacks: kept.map((s) => ({ frames: stack(s), bytes: s.liveBytes })) },
    { name: 'allocated', stacks: kept.map((s) => ({ frames: stack(s), bytes: s.bytes })) },
  ]) : undefined;
  const warnings = by === 'js' && stacks && !hasJs ? ['--by js: no stack of this trace reaches a JS function (perf-map names come from node, or python3 ≥ 3.12): its rows are whole stacks'] : [];
  return { title, summary, text: lines.join('\n'), sections, table, warnings, ...(speedscope ? { speedscope } : {}) };
}
