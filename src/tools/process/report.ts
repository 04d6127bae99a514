import type { LogContents, LogRecord } from '../../core/log.js';
import { summarizeSeries, trendSentence, type SeriesSummary } from '../../core/stats.js';
import { formatBytes, formatDuration } from '../../core/units.js';
import type { Chart, Report, ReportOptions, Section, Table } from '../../report/types.js';
import type { ProcRecord, SampleRecord } from './sampler.js';

/** The JSON summary of a process log (`memtrace report LOG --format json`). */
export interface ProcessSummary {
  tool: 'process';
  command: string[];
  pid: number;
  durationMs: number;
  samples: number;
  /** When the Node program began to exit (ms): the summary's series end there. */
  exitingAt?: number;
  intervalMs: number;
  rss: SeriesSummary | null;
  heapUsed: SeriesSummary | null;
  verdict: string;
  /**
   * Samples of the run (after the probe's first figures) without V8 figures: the main thread
   * was busy and could not publish them. Absent when every sample had them.
   */
  v8Missing?: { samples: number; of: number; longestGap: { from: number; to: number } };
  marks: Array<{ t: number; label: string }>;
  processes: Array<{ pid: number; ppid: number; command: string[]; peakRss: number; firstT: number; lastT: number }>;
  exit?: { code: number | null; signal: string | null };
}

function isSample(r: LogRecord): r is LogRecord & SampleRecord {
  return typeof r.rss === 'number';
}

/** Splits a process log into samples (sorted by time), marks, process events and the exit record. */
export function splitRecords(log: LogContents) {
  const samples: SampleRecord[] = [];
  const marks: Array<{ t: number; label: string }> = [];
  const procs: ProcRecord[] = [];
  let exit: { code: number | null; signal: string | null } | undefined;
  const exiting = new Map<number, number>();
  for (const r of log.records) {
    if (isSample(r)) samples.push(r);
    else if (typeof r.mark === 'string') marks.push({ t: r.t, label: r.mark });
    else if (typeof r.proc === 'number') procs.push(r as unknown as ProcRecord);
    else if ('exit' in r) exit = r.exit as typeof exit;
    else if (typeof r.exiting === 'number') exiting.set(r.exiting, r.t);
  }
  // In-process marks are written by a different thread than samples: order by time.
  samples.sort((a, b) => a.t - b.t);
  marks.sort((a, b) => a.t - b.t);
  return { samples, marks, procs, exit, exiting };
}

function line(label: string, s: SeriesSummary): string {
  return `${label.padEnd(8)} start ${formatBytes(s.start)}, min ${formatBytes(s.min)}, peak ${formatBytes(s.peak)} at ${formatDuration(s.peakT)}, end ${formatBytes(s.end)}`;
}

/** Samples after the first with V8 figures that lack them, and the longest run of such samples. */
function missingV8(samples: SampleRecord[]): ProcessSummary['v8Missing'] {
  const first = samples.findIndex((s) => s.heapUsed !== undefined);
  if (first < 0) return undefined;
  let n = 0;
  let gap: { from: number; to: number; len: number } | undefined;
  let from = -1;
  for (let i = first; i <= samples.length; i++) {
    const missing = i < samples.length && samples[i]!.heapUsed === undefined;
    if (missing) { n++; if (from < 0) from = i; continue; }
    if (from >= 0) {
      const len = samples[i - 1]!.t - samples[from]!.t;
      if (!gap || len > gap.len) gap = { from: samples[from]!.t, to: samples[i - 1]!.t, len };
      from = -1;
    }
  }
  if (!gap) return undefined;
  return { samples: n, of: samples.length - first, longestGap: { from: gap.from, to: gap.to } };
}

/** Builds the report of a `process` log: summary, text, charts of memory, CPU and faults over time. */
export function buildReport(log: LogContents, options: ReportOptions = {}): Report {
  const { header } = log;
  const { samples, marks, procs, exit, exiting } = splitRecords(log);
  const ts = samples.map((s) => s.t);
  // The summary is of the program's run: samples after a Node program began to exit show V8
  // tearing its heap down, and would make any program look as if it shrank at the end.
  const exitT = exiting.get(header.pid) ?? (exiting.size === 1 ? [...exiting.values()][0]! : undefined);
  const running = exitT === undefined ? samples : samples.filter((s) => s.t <= exitT);
  const base = running.length >= 2 ? running : samples;
  const rss = summarizeSeries(base.map((s) => s.t), base.map((s) => s.rss));
  const heapSamples = base.filter((s) => typeof s.heapUsed === 'number');
  const heapUsed = summarizeSeries(heapSamples.map((s) => s.t), heapSamples.map((s) => s.heapUsed!));
  const durationMs = samples.length ? samples[samples.length - 1]!.t : 0;
  const v8Missing = missingV8(base);
  const warnings: string[] = [];

  // Per-process peaks, from the [pid, rss] pairs of each sample.
  const per = new Map<number, { peak: number; first: number; last: number }>();
  for (const s of samples) {
    for (const [pid, r] of s.procs ?? []) {
      const p = per.get(pid);
      if (!p) per.set(pid, { peak: r, first: s.t, last: s.t });
      else { p.peak = Math.max(p.peak, r); p.last = s.t; }
    }
  }
  const cmdOf = new Map<number, ProcRecord>(procs.map((p) => [p.proc, p]));
  const processes = [...per.entries()].map(([pid, p]) => ({
    pid,
    ppid: cmdOf.get(pid)?.ppid ?? (pid === header.pid ? 0 : -1),
    command: cmdOf.get(pid)?.cmd ?? (pid === header.pid ? header.command : []),
    peakRss: p.peak,
    firstT: p.first,
    lastT: p.last,
  }));

  const verdict = rss ? trendSentence(rss.trend, rss) : 'no samples';
  const summary: ProcessSummary = {
    tool: 'process',
    command: header.command,
    pid: header.pid,
    durationMs,
    samples: samples.length,
    ...(exitT !== undefined ? { exitingAt: exitT } : {}),
    intervalMs: Number(header.interval_ms ?? 0),
    rss,
    heapUsed,
    verdict,
    ...(v8Missing ? { v8Missing } : {}),
    marks,
    processes,
    ...(exit ? { exit } : {}),
  };

  const out: string[] = [];
  out.push(`memtrace process: ${header.command.join(' ')} (pid ${header.pid})`);
  out.push(`  ${formatDuration(durationMs)}, ${samples.length} samples every ${formatDuration(summary.intervalMs)}`);
  if (rss) {
    out.push('  ' + line('RSS', rss));
    // Through 2 points a line always fits: no slope, no verdict, on too short a run.
    if (rss.trend === 'too-few-samples') out.push(`  trend    ${verdict}; a shorter --interval gives more`);
    else out.push(`  slope    ${formatBytes(rss.slopePerSec, true)}/s (R² ${rss.r2.toFixed(2)}): ${verdict}`);
  } else {
    out.push('  no samples: the program ended before the first sample');
  }
  if (heapUsed) out.push('  ' + line('JS heap', heapUsed));
  if (v8Missing) {
    const { samples: n, of, longestGap: g } = v8Missing;
    out.push(`  V8 figures missing in ${n} of ${of} samples (${Math.round((100 * n) / of)}%), from ${formatDuration(g.from)} to ${formatDuration(g.to)} at the longest: the main thread was busy (synchronous code, a long GC) and could not report them; the JS heap line is of the other samples`);
  }
  if (base !== samples && base.length < samples.length) {
    const n = samples.length - base.length;
    out.push(`  (summary up to ${formatDuration(exitT!)}, when the program began to exit; the ${n > 1 ? `${n} samples` : 'sample'} of its teardown after that ${n > 1 ? 'are' : 'is'} in the charts)`);
  }
  if (marks.length) out.push(`  ${marks.length} mark${marks.length > 1 ? 's' : ''}: ${marks.slice(0, 5).map((m) => `${m.label} @ ${formatDuration(m.t)}`).join(', ')}${marks.length > 5 ? ', …' : ''}`);
  if (processes.length > 1) {
    out.push(`  ${processes.length} processes in the tree; largest peaks:`);
    for (const p of [...processes].sort((a, b) => b.peakRss - a.peakRss).slice(0, Number(options.top ?? 5))) {
      out.push(`    ${String(p.pid).padStart(7)}  ${formatBytes(p.peakRss).padStart(10)}  ${p.command.join(' ').slice(0, 80)}`);
    }
  }
  if (exit) out.push(`  exit: ${exit.signal ? `killed by ${exit.signal}` : `status ${exit.code}`}`);

  const sections: Section[] = [];
  const hasV8 = heapSamples.length > 0;
  const v = (f: (s: SampleRecord) => number | undefined) => samples.map((s) => f(s) ?? null);
  const breakdown: Chart = {
    title: hasV8 ? 'Where the RSS is: JS heap, external, other native, file-backed, shared (stacked)' : 'Where the RSS is: anonymous, file-backed, shared (stacked)',
    unit: 'bytes', t: ts, stacked: true, marks,
    // A sample without V8 figures cannot be split: its anonymous memory is a band of its own,
    // never "other native" (a busy main thread growing its JS heap would read as a native leak).
    // V8's heapTotal (and external) are memory committed, not all of it resident: each band is
    // cut to the anonymous RSS left below it, so the stack is the RSS.
    series: hasV8
      ? [
          { label: 'JS heap', values: v((s) => (s.heapTotal === undefined ? undefined : Math.min(s.heapTotal, s.anon))) },
          { label: 'external + array buffers', values: v((s) => (s.heapTotal === undefined ? undefined : Math.min(s.external ?? 0, Math.max(0, s.anon - s.heapTotal)))) },
          { label: 'other native', values: v((s) => (s.heapTotal === undefined ? undefined : Math.max(0, s.anon - s.heapTotal - (s.external ?? 0)))) },
          ...(samples.some((s) => s.heapTotal === undefined) ? [{ label: 'anonymous, not split (no V8 figures)', values: v((s) => (s.heapTotal === undefined ? s.anon : undefined)) }] : []),
          { label: 'file-backed', values: v((s) => s.file) },
          { label: 'shared', values: v((s) => s.shmem) },
        ]
      : [
          { label: 'anonymous', values: v((s) => s.anon) },
          { label: 'file-backed', values: v((s) => s.file) },
          { label: 'shared', values: v((s) => s.shmem) },
        ],
  };
  const rssChart: Chart = {
    title: 'RSS over time', unit: 'bytes', t: ts, marks,
    series: [{ label: 'RSS', values: v((s) => s.rss) }],
  };
  if (hasV8) rssChart.series.push({ label: 'JS heap used', values: v((s) => s.heapUsed) }, { label: 'JS heap total', values: v((s) => s.heapTotal) });
  if (samples.some((s) => s.swap > 0)) rssChart.series.push({ label: 'swap', values: v((s) => s.swap) });
  if (samples.some((s) => s.pss !== undefined)) {
    rssChart.series.push({ label: 'PSS', values: v((s) => s.pss) }, { label: 'USS', values: v((s) => s.uss) });
  }
  sections.push({ kind: 'chart', chart: rssChart }, { kind: 'chart', chart: breakdown });
  if (processes.length > 1) {
    const pids = [...processes].sort((a, b) => b.peakRss - a.peakRss).slice(0, 12).map((p) => p.pid);
    sections.push({
      kind: 'chart',
      chart: {
        title: 'RSS by process (the tree, largest 12)', unit: 'bytes', t: ts, marks,
        series: pids.map((pid) => {
          const p = processes.find((q) => q.pid === pid)!;
          return {
            label: `${pid} ${p.command.map((a) => a.split('/').pop()).join(' ').slice(0, 40)}`,
            values: samples.map((s) => s.procs?.find((x) => x[0] === pid)?.[1] ?? null),
          };
        }),
      },
    });
  }
  sections.push(
    { kind: 'chart', chart: { title: 'CPU (% of one core)', unit: 'percent', t: ts, marks, series: [{ label: 'CPU', values: v((s) => s.cpu) }] } },
    { kind: 'chart', chart: { title: 'Page faults per second', unit: 'per-second', t: ts, marks, series: [{ label: 'minor', values: v((s) => s.faults) }, { label: 'major', values: v((s) => s.majfaults) }] } },
  );
  if (marks.length) {
    sections.push({ kind: 'table', table: { title: 'Marks', columns: ['time', 'mark', 'RSS at the sample before'], rows: marks.map((m) => {
      let before: SampleRecord | undefined;
      for (const s of samples) { if (s.t <= m.t) before = s; else break; }
      return [formatDuration(m.t), m.label, before ? formatBytes(before.rss) : null];
    }) } });
  }

  const cols = ['t_ms', 'rss', 'anon', 'file', 'shmem', 'swap', 'faults_per_s', 'majfaults_per_s', 'cpu_percent', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers', 'pss', 'uss', 'mark'] as const;
  const table: Table = { columns: [...cols], rows: [] };
  let mi = 0;
  for (const s of samples) {
    while (mi < marks.length && marks[mi]!.t <= s.t) {
      const m = marks[mi++]!;
      table.rows.push([m.t, null, null, null, null, null, null, null, null, null, null, null, null, null, null, m.label]);
    }
    table.rows.push([s.t, s.rss, s.anon, s.file, s.shmem, s.swap, s.faults, s.majfaults, s.cpu, s.heapUsed ?? null, s.heapTotal ?? null, s.external ?? null, s.arrayBuffers ?? null, s.pss ?? null, s.uss ?? null, null]);
  }
  for (; mi < marks.length; mi++) table.rows.push([marks[mi]!.t, ...Array(14).fill(null), marks[mi]!.label]);

  return {
    title: `memtrace process: ${header.command.join(' ')}`,
    summary: summary as unknown as Record<string, unknown>,
    text: out.join('\n'),
    sections,
    table,
    warnings,
  };
}
