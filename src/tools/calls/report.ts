import type { LogContents } from '../../core/log.js';
import { formatBytes } from '../../core/units.js';
import type { Chart, Report, ReportOptions, Table } from '../../report/types.js';
import { formatCallsSummary, summarizeCalls } from './summary.js';

/** Most points a timeline chart carries; longer traces are thinned, keeping each bucket's extremes. */
const MAX_POINTS = 20000;

function thin(idx: number[], rss: number[]): number[] {
  if (idx.length <= MAX_POINTS) return idx;
  const per = Math.ceil(idx.length / (MAX_POINTS / 2));
  const out: number[] = [];
  for (let b = 0; b < idx.length; b += per) {
    let lo = b, hi = b;
    for (let j = b; j < Math.min(idx.length, b + per); j++) {
      if (rss[idx[j]!]! < rss[idx[lo]!]!) lo = j;
      if (rss[idx[j]!]! > rss[idx[hi]!]!) hi = j;
    }
    out.push(idx[Math.min(lo, hi)]!);
    if (lo !== hi) out.push(idx[Math.max(lo, hi)]!);
  }
  return out;
}

/** Builds the report of a calls log: top functions by ΔRSS, RSS and call depth over time. */
export function buildReport(log: LogContents, options: ReportOptions = {}): Report {
  const top = options.top ?? 20;
  const records = log.records;
  const summary = summarizeCalls(records, top);
  const ev = records.filter((r) => typeof r.ev === 'string');
  const rss = ev.map((r) => r.rss as number);
  const keep = thin(ev.map((_, i) => i), rss);
  const marks = records.filter((r) => typeof r.mark === 'string').map((r) => ({ t: r.t, label: r.mark as string }));
  for (const r of records) {
    if (typeof r.pause === 'string') marks.push({ t: r.t, label: 'nested trace' });
    if (typeof r.resume === 'string') marks.push({ t: r.t, label: 'resumed' });
  }
  const t = keep.map((i) => ev[i]!.t);
  const rssChart: Chart = {
    title: 'RSS at calls and returns',
    unit: 'bytes',
    t,
    series: [
      { label: 'RSS', values: keep.map((i) => ev[i]!.rss as number) },
      { label: 'V8 heap used', values: keep.map((i) => (ev[i]!.heap as number) ?? null) },
    ],
    marks,
  };
  const depthChart: Chart = {
    title: 'Call depth at each event',
    unit: 'count',
    t,
    series: [{ label: 'depth', values: keep.map((i) => ev[i]!.depth as number) }],
    steps: true,
    marks,
  };
  const topTable: Table = {
    title: 'Functions whose events moved RSS most',
    columns: ['function', 'kind', 'file:line', 'events', 'calls', 'sum ΔRSS', 'max ΔRSS'],
    rows: summary.top.map((f) => [f.end ? '(trace end)' : f.fn ?? '(line)', f.end ? 'end' : f.native ? 'native' : f.fn ? 'js' : 'line', f.end ? '' : `${f.file}:${f.line}`, f.events, f.calls, formatBytes(f.sumDrss, true), formatBytes(f.maxDrss, true)]),
  };
  const biggest = [...ev].sort((a, b) => (b.drss as number) - (a.drss as number)).slice(0, top);
  const eventsTable: Table = {
    title: 'Largest single moves',
    columns: ['t (ms)', 'event', 'depth', 'function', 'file:line', 'RSS', 'ΔRSS'],
    rows: biggest.map((r) => [r.t, r.ev as string, r.depth as number, r.native ? `${r.fn as string} [native]` : (r.fn as string) ?? '', r.ev === 'end' ? '' : `${r.file}:${r.line}`, formatBytes(r.rss as number), formatBytes(r.drss as number, true)]),
  };
  const h = log.header;
  const text = [
    `memtrace calls: ${h.command.join(' ')} (pid ${h.pid}, trigger ${formatBytes(Number(h.trigger ?? 4096))}${h.lines ? ', lines' : ''}${h.native ? ', native' : ''})`,
    formatCallsSummary(summary, top),
  ].join('\n');
  return {
    title: `memtrace calls: ${h.command.join(' ')}`,
    summary: { tool: 'calls', command: h.command, pid: h.pid, trigger: h.trigger, ...summary },
    text,
    sections: [
      { kind: 'chart', chart: rssChart },
      { kind: 'chart', chart: depthChart },
      { kind: 'table', table: topTable },
      { kind: 'table', table: eventsTable },
    ],
    table: {
      columns: ['t', 'ev', 'depth', 'fn', 'native', 'file', 'line', 'col', 'rss', 'drss', 'heap'],
      rows: ev.map((r) => [r.t, r.ev as string, r.depth as number, (r.fn as string) ?? '', r.native ? 1 : 0, (r.file as string) ?? '', (r.line as number) ?? null, (r.col as number) ?? null, r.rss as number, r.drss as number, (r.heap as number) ?? null]),
    },
    warnings: [],
  };
}
