// The heap tool's tables for people: the same text at exit, from the library and in reports.
import { formatBytes } from '../../core/units.js';
import type { GroupBy, HeapTotals, Site } from './profile.js';

/** What a table is about. */
export interface TableContext {
  by: GroupBy;
  hasLive: boolean;
  hasAlloc: boolean;
  /** "sampled" (estimates) or "exact". */
  mode: 'sampled' | 'exact';
  /** External bytes (Buffers) were sampled: an `external` column, and % of JS heap plus external. */
  hasExternal?: boolean;
  /** What "live" means here ("live at the end", "at the peak"…). */
  liveWord?: string;
}

const BY_TITLE: Record<GroupBy, string> = {
  line: 'by line of the allocating function',
  function: 'by function (inclusive: the function and what it called)',
  stack: 'by stack',
};

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-';
}

function count(n: number): string {
  return String(Math.round(n));
}

/** The totals line: user code's bytes, and memtrace's own kept apart. */
export function formatTotals(t: HeapTotals, ctx: TableContext): string[] {
  const lines: string[] = [];
  const est = ctx.mode === 'sampled' ? ' (estimated from samples)' : '';
  const ext = (b: number) => (ctx.hasExternal ? `; Buffers' external bytes placed on JS sites: ${formatBytes(b)}` : '');
  if (ctx.hasLive) lines.push(`${ctx.liveWord ?? 'live at the end'}: ${formatBytes(t.live)} of JS heap in ${count(t.liveCount)} ${ctx.mode === 'sampled' ? 'samples' : 'objects'}${est}${ext(t.extLive)}`);
  if (ctx.hasAlloc) lines.push(`allocated (collected objects included): ${formatBytes(t.alloc)} of JS heap in ${count(t.allocCount)} ${ctx.mode === 'sampled' ? 'samples' : 'objects'}${est}${ctx.hasLive ? '' : ext(t.extAlloc)}`);
  const own = [ctx.hasLive ? `${formatBytes(t.toolLive)} live` : '', ctx.hasAlloc ? `${formatBytes(t.toolAlloc)} allocated` : ''].filter(Boolean).join(', ');
  lines.push(`memtrace's own (inspector session, profile reading; not charged above): ${own}`);
  return lines;
}

/** A top-N table of sites as aligned text. */
export function formatSites(sites: Site[], t: HeapTotals, ctx: TableContext, top: number): string {
  const shown = sites.slice(0, top);
  const head: string[] = [];
  const rows: string[][] = [];
  const n = ctx.mode === 'sampled' ? 'samples' : 'objects';
  // With external bytes, % is of the JS heap plus external: what the site holds in all.
  const x = ctx.hasExternal ? 1 : 0;
  if (ctx.hasLive) head.push('live', ...(x ? ['external'] : []), '%', n);
  if (ctx.hasAlloc) head.push('allocated', ...(x && !ctx.hasLive ? ['external'] : []), '%', n);
  head.push('where', 'function');
  for (const s of shown) {
    const r: string[] = [];
    if (ctx.hasLive) r.push(formatBytes(s.live), ...(x ? [formatBytes(s.extLive)] : []), pct(s.live + x * s.extLive, t.live + x * t.extLive), count(s.liveCount));
    if (ctx.hasAlloc) {
      const xa = ctx.hasLive ? 0 : x;
      r.push(formatBytes(s.alloc), ...(xa ? [formatBytes(s.extAlloc)] : []), pct(s.alloc + xa * s.extAlloc, t.alloc + xa * t.extAlloc), count(s.allocCount));
    }
    r.push(s.where, ctx.by === 'stack' ? '' : s.fn);
    rows.push(r);
  }
  const numeric = head.length - 2;
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < numeric ? c.padStart(widths[i]!) : i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const what = ctx.hasLive ? ctx.liveWord ?? 'live at the end' : 'allocated';
  const title = `top ${Math.min(top, sites.length)} of ${sites.length} sites ${BY_TITLE[ctx.by]}, ${what}:`;
  if (shown.length === 0) return `${title}\n  (nothing sampled in the program's own code)`;
  return [title, line(head), ...rows.map(line)].join('\n');
}
