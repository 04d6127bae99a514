// What a malloc trace means: per-function totals, size histogram, peak, live-at-exit by call
// site, top call sites, live-bytes timeline. The trace is binary; readToolLog aggregates it
// (see format.ts) into a few summary records rather than one record per event.
import { formatBytes, formatDuration } from '../../core/units.js';
import type { LogContents, LogHeader, LogRecord } from '../../core/log.js';
import type { Report, ReportOptions, Section, Table } from '../../report/types.js';
import { MAGIC, readMallocLog, type MallocAnalysis } from './format.js';

/** True when these first bytes are a malloc trace. */
export function sniff(head: Buffer): boolean {
  return head.length >= 8 && head.toString('latin1', 0, 8) === MAGIC;
}

/**
 * Reads a malloc trace as a header and pre-aggregated records: `function` (calls, bytes per
 * function), `size` (histogram bucket), `live` (timeline point), `site` (a call site's totals).
 */
export async function readToolLog(path: string): Promise<LogContents> {
  return toLogContents(readMallocLog(path));
}

/** Turns an analysis into the records {@link buildReport} reads. */
export function toLogContents(a: MallocAnalysis): LogContents {
  const records: LogRecord[] = [];
  for (const f of a.functions) records.push({ t: 0, kind: 'function', ...f });
  for (const h of a.histogram) records.push({ t: 0, kind: 'size', ...h });
  a.timeline.t.forEach((t, i) => records.push({ t, kind: 'live', bytes: a.timeline.live[i]! }));
  for (const s of a.sites) records.push({ t: 0, kind: 'site', ...s });
  return { header: a.header, records, warnings: a.warnings };
}

/** True for a frame of JavaScript code (named from node's perf map: "fn (file.js:12)"). */
const isJsFrame = (f: string) => /\((?:node:|[^()]*\.(?:[cm]?js|[cm]?ts|tsx|jsx))[^()]*\)$/.test(f);

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

interface Site { frames: string[]; calls: number; bytes: number; liveBytes: number; liveCount: number }

/** Builds the report of a malloc trace. */
export function buildReport(log: LogContents, options: ReportOptions = {}): Report {
  const h = log.header as LogHeader & Record<string, number | string | undefined | unknown[]>;
  const top = options.top ?? 10;
  const depth = typeof options.depth === 'number' ? options.depth : 6;
  const fns = log.records.filter((r) => r.kind === 'function') as unknown as Array<{ op: string; calls: number; bytes: number }>;
  const sizes = log.records.filter((r) => r.kind === 'size') as unknown as Array<{ lo: number; hi: number; count: number }>;
  const live = log.records.filter((r) => r.kind === 'live') as unknown as Array<{ t: number; bytes: number }>;
  // call sites that read the same at the shown depth are one row
  const merged = new Map<string, Site>();
  for (const r of log.records) {
    if (r.kind !== 'site') continue;
    const s = r as unknown as Site;
    const key = siteLabel(s.frames, depth);
    const m = merged.get(key);
    if (!m) merged.set(key, { frames: s.frames, calls: s.calls, bytes: s.bytes, liveBytes: s.liveBytes, liveCount: s.liveCount });
    else { m.calls += s.calls; m.bytes += s.bytes; m.liveBytes += s.liveBytes; m.liveCount += s.liveCount; }
  }
  const sites = [...merged.values()];
  const stacks = h.mode === 'stacks';
  const counting = h.mode === 'count';
  const byBytes = [...sites].sort((a, b) => b.bytes - a.bytes).slice(0, top);
  const byCount = [...sites].sort((a, b) => b.calls - a.calls).slice(0, top);
  const unfreed = sites.filter((s) => s.liveBytes > 0).sort((a, b) => b.liveBytes - a.liveBytes).slice(0, top);
  const n = (k: string) => Number(h[k] ?? 0);

  const lines: string[] = [];
  lines.push(`memtrace malloc: ${(h.command as string[]).join(' ')} (pid ${h.pid}, ${formatDuration(n('durationMs'))}, ${h.mode} mode${n('minSize') ? `, events ≥ ${formatBytes(n('minSize'))}` : ''})`);
  lines.push(`  allocations ${num(n('allocations'))} (${formatBytes(n('bytesAllocated'))}), frees ${num(n('frees'))}` + (n('freeNull') ? ` + ${num(n('freeNull'))} free(NULL)` : ''));
  if (!counting) {
    lines.push(`  peak live   ${formatBytes(n('peakBytes'))} at ${formatDuration(n('peakMs'))}`);
    lines.push(`  live at ${h.endedBy === 'exit' ? 'exit' : `${formatDuration(n('stoppedAtMs'))} (the trace stops)`} ${formatBytes(n('liveAtExitBytes'))} in ${num(n('liveAtExitCount'))} blocks` + (n('unknownFrees') ? ` (${num(n('unknownFrees'))} frees of blocks allocated before tracing${n('minSize') ? ' or below --min-size' : ''})` : ''));
  }
  lines.push('');
  lines.push('  function          calls          bytes');
  for (const f of fns) lines.push(`  ${f.op.padEnd(16)} ${num(f.calls).padStart(12)} ${(f.op.startsWith('free') ? '' : formatBytes(f.bytes)).padStart(14)}`);
  if (sizes.length) {
    lines.push('', '  sizes');
    const maxCount = Math.max(...sizes.map((s) => s.count));
    for (const s of sizes) lines.push(`  ${sizeLabel(s.lo, s.hi).padStart(20)} ${num(s.count).padStart(12)} ${'#'.repeat(Math.max(1, Math.round((s.count / maxCount) * 30)))}`);
  }
  if (stacks) {
    const show = (title: string, list: Site[], what: (s: Site) => string) => {
      if (!list.length) return;
      lines.push('', `  ${title}`);
      for (const s of list) lines.push(`  ${what(s).padStart(24)}  ${siteLabel(s.frames, depth)}`);
    };
    show('unfreed at exit, by call site', unfreed, (s) => `${formatBytes(s.liveBytes)} in ${num(s.liveCount)}`);
    show('top call sites by bytes', byBytes, (s) => `${formatBytes(s.bytes)} in ${num(s.calls)}`);
    show('top call sites by count', byCount, (s) => `${num(s.calls)} calls`);
  } else if (!counting) {
    lines.push('', '  (run with --stacks for call sites)');
  }
  const images = (h.images as Array<{ pid: number; command: string[] }>) ?? [];
  if (images.length > 1) lines.push('', `  process images in this file (exec): ${images.map((i) => i.command[0]).join(' → ')}`);

  const siteRow = (s: Site) => [siteLabel(s.frames, depth), s.calls, s.bytes, s.liveBytes, s.liveCount];
  const siteCols = ['call site', 'calls', 'bytes', 'live bytes at exit', 'live blocks at exit'];
  const byteColumns = ['bytes', 'live bytes at exit'];
  const sections: Section[] = [];
  if (!counting && live.length) {
    sections.push({ kind: 'chart', chart: { title: 'Live heap bytes (malloc − free)', unit: 'bytes', t: live.map((r) => r.t), series: [{ label: 'live bytes', values: live.map((r) => r.bytes) }], marks: [{ t: n('peakMs'), label: `peak ${formatBytes(n('peakBytes'))}` }] } });
  }
  sections.push({ kind: 'table', table: { title: 'Calls and bytes per function', columns: ['function', 'calls', 'bytes'], rows: fns.map((f) => [f.op, f.calls, f.bytes]), byteColumns } });
  sections.push({ kind: 'table', table: { title: 'Requested sizes', columns: ['size', 'calls'], rows: sizes.map((s) => [sizeLabel(s.lo, s.hi), s.count]) } });
  if (stacks) {
    sections.push({ kind: 'table', table: { title: 'Unfreed at exit, by call site', columns: siteCols, rows: unfreed.map(siteRow), byteColumns } });
    sections.push({ kind: 'table', table: { title: 'Top call sites by bytes', columns: siteCols, rows: byBytes.map(siteRow), byteColumns } });
    sections.push({ kind: 'table', table: { title: 'Top call sites by count', columns: siteCols, rows: byCount.map(siteRow), byteColumns } });
  }
  const table: Table = stacks
    ? { columns: siteCols, rows: [...sites].sort((a, b) => b.bytes - a.bytes).map(siteRow) }
    : { columns: ['t_ms', 'live_bytes'], rows: live.map((r) => [r.t, r.bytes]) };

  const summary = {
    tool: 'malloc', command: h.command, pid: h.pid, mode: h.mode, minSize: n('minSize'), durationMs: n('durationMs'),
    allocations: n('allocations'), frees: n('frees'), freeNull: n('freeNull'), bytesAllocated: n('bytesAllocated'),
    peakBytes: n('peakBytes'), peakMs: n('peakMs'), liveAtExitBytes: n('liveAtExitBytes'), liveAtExitCount: n('liveAtExitCount'),
    unknownFrees: n('unknownFrees'), endedBy: h.endedBy, images, events: n('events'),
    functions: fns.map(({ op, calls, bytes }) => ({ op, calls, bytes })),
    sizes: sizes.map(({ lo, hi, count }) => ({ lo, hi, count })),
    unfreedBySite: unfreed, topSitesByBytes: byBytes, topSitesByCount: byCount,
  };
  return { title: `memtrace malloc: ${(h.command as string[]).join(' ')}`, summary, text: lines.join('\n'), sections, table, warnings: [] };
}
