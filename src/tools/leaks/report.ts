// What a leaks log means: the verdict (text and JSON), per leak a chart of its growth across the
// snapshots and its retainer path, and the program's heap and RSS over the iterations with marks.
import { formatBytes } from '../../core/units.js';
import { escapeHtml } from '../../report/html.js';
import type { LogContents } from '../../core/log.js';
import type { Chart, Report, ReportOptions, Section } from '../../report/types.js';
import type { LeakAnalysis } from './detect.js';
import { allocatedWhere, formatAnalysis, type IterationFigures } from './format.js';

interface IterationRecord extends IterationFigures {
  t: number;
  i: number;
  phase: 'warmup' | 'measure';
  snapshot?: string;
}

/** Builds the report of a leaks log. */
export function buildReport(log: LogContents, _options: ReportOptions = {}): Report {
  const h = log.header;
  const warmup = Number(h.warmup ?? 0);
  const iterations = Number(h.iterations ?? 0);
  const its = log.records.filter((r) => r.ev === 'iteration') as unknown as IterationRecord[];
  const marks = log.records.filter((r) => r.ev === 'mark').map((r) => ({ t: r.t, label: String(r.label) }));
  const analysisRec = log.records.find((r) => r.ev === 'analysis');
  const exitRec = log.records.find((r) => r.ev === 'exit');
  const analysis = analysisRec?.analysis as LeakAnalysis | undefined;
  const measured = its.filter((r) => r.phase === 'measure');
  const warnings: string[] = [];
  let text: string;
  if (analysis) {
    text = formatAnalysis(analysis, { warmup, iterations, figures: measured });
    if (analysisRec!.partial) text += `\n(partial: ${String(exitRec?.incomplete ?? 'the run stopped early')})`;
  } else {
    text = `memtrace leaks: no verdict: ${String(exitRec?.incomplete ?? 'the run ended before the measurements')}; ${measured.length ? `${measured.length - 1} iterations measured` : 'nothing measured'}`;
  }
  const sections: Section[] = [];
  const snapT = measured.filter((r) => r.snapshot).map((r) => r.t);
  const iterMarks = measured.map((r) => ({ t: r.t, label: r.k === 0 ? 'baseline' : `iteration ${r.k}` }));
  if (analysis) {
    const t = snapT.length === analysis.positions.length ? snapT : analysis.positions;
    analysis.leaks.forEach((l, n) => {
      const chart: Chart = {
        title: `Leak ${n + 1}: ${l.title}`, unit: 'bytes', t,
        series: l.groups.slice(0, 6).map((g) => ({ label: g.site === '(native code)' ? `${g.cls} by ${g.fn || 'native code'}` : `${g.cls}${g.site ? ` (${g.site.split('/').pop()})` : ''}`, values: g.bytes })),
        marks: snapT.length ? iterMarks : undefined,
      };
      sections.push({ kind: 'chart', chart });
      if (l.entries) sections.push({ kind: 'chart', chart: { title: `Leak ${n + 1}: entries of ${l.holder.replace(/ \(.*$/, '')}`, unit: 'count', t, series: [{ label: 'entries', values: l.entries }], marks: snapT.length ? iterMarks : undefined } });
      const path = l.path.map((p) => `<span class="step">${escapeHtml(p)}</span>`).join(' <span class="arrow">→</span> ');
      const rows = l.groups.map((g) => `<tr><td>${escapeHtml(g.cls)}</td><td class="num">+${Math.round(g.perIteration)}</td><td class="num">${escapeHtml(formatBytes(g.bytesPerIteration))}</td><td class="num">${g.counts[g.counts.length - 1]}</td><td>${escapeHtml(allocatedWhere(g))}</td></tr>`).join('');
      sections.push({
        kind: 'html', title: `Leak ${n + 1}: who holds it`,
        html: `<p><b>Retainer path</b> (from a GC root): ${path}</p><p>grew in ${l.grew} of ${l.measured} intervals; the holder retains ${escapeHtml(formatBytes(l.retainedSize))}; +${escapeHtml(formatBytes(l.bytesPerIteration))} per iteration</p>` +
          `<table><thead><tr><th>class</th><th>objects/iteration</th><th>bytes/iteration</th><th>alive</th><th>allocated</th></tr></thead><tbody>${rows}</tbody></table>`,
      });
    });
  }
  if (its.length) {
    sections.push({
      kind: 'chart',
      chart: {
        title: 'The program over the iterations (measured after a full GC; warm-up without)', unit: 'bytes', t: its.map((r) => r.t),
        series: [
          { label: 'RSS', values: its.map((r) => r.rss) },
          { label: 'heap used', values: its.map((r) => r.heapUsed) },
          { label: 'external', values: its.map((r) => r.external) },
          { label: 'array buffers', values: its.map((r) => r.arrayBuffers) },
        ],
        marks: [...iterMarks, ...marks.filter((m) => m.label !== 'iteration')],
      },
    });
  }
  const summary: Record<string, unknown> = {
    tool: 'leaks', command: h.command, warmup, iterations, driver: h.driver,
    verdict: analysis ? (analysis.leaks.length ? 'leak' : 'no leak') : 'incomplete',
    leaks: analysis?.leaks ?? [], considered: analysis?.considered ?? [],
    iterations_measured: measured.map((r) => ({ k: r.k, heapUsed: r.heapUsed, rss: r.rss, external: r.external, arrayBuffers: r.arrayBuffers })),
    ...(exitRec?.incomplete ? { incomplete: exitRec.incomplete } : {}),
  };
  return {
    title: `memtrace leaks: ${(h.command as string[]).join(' ')}`,
    summary, text, sections, warnings,
    table: { columns: ['t_ms', 'phase', 'iteration', 'heap_used', 'rss', 'external', 'array_buffers'], rows: its.map((r) => [Math.round(r.t), r.phase, r.i, r.heapUsed, r.rss, r.external, r.arrayBuffers]) },
  };
}
