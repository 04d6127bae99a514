import { basename } from 'node:path';
import { UsageError } from '../core/errors.js';
import type { Chart, Report, Table } from './types.js';

/** The two files gnuplot needs: the data (.dat) and the script (.plt) that plots it to a PNG. */
export interface GnuplotFiles {
  dat: string;
  plt: string;
}

function scale(unit: Chart['unit']): { div: number; label: string } {
  return unit === 'bytes' ? { div: 1024 * 1024, label: 'MiB' } : { div: 1, label: unit };
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The bars a report without time charts can still show: a table's first text column against its first bytes column. */
function barsOf(t: Table): { title: string; column: string; rows: Array<[string, number]> } | null {
  const text = t.columns.findIndex((_, j) => t.rows.some((r) => typeof r[j] === 'string'));
  const bytes = t.columns.findIndex((c, j) => /bytes/.test(c) && t.rows.every((r) => r[j] === null || typeof r[j] === 'number'));
  if (text < 0 || bytes < 0 || t.rows.length === 0) return null;
  const rows = t.rows.slice(0, 15).map((r): [string, number] => [String(r[text] ?? ''), Number(r[bytes] ?? 0)]);
  return { title: t.title ?? t.columns[bytes]!, column: t.columns[bytes]!, rows };
}

/**
 * Writes each chart of the report as a data block of the .dat (one column per series, times in
 * seconds, "?" where unknown) and a .plt that plots them into `pngPath`, one panel per chart.
 * A report without time charts (heap) gets bar panels of its tables' bytes columns; one with
 * neither is a UsageError (an empty PNG would say nothing).
 */
export function renderGnuplot(report: Report, datPath: string, pngPath: string): GnuplotFiles {
  const charts = report.sections.flatMap((s) => (s.kind === 'chart' ? [s.chart] : []));
  const bars = charts.length ? [] : report.sections.flatMap((s) => (s.kind === 'table' ? [barsOf(s.table)].filter((b) => b !== null) : [])).slice(0, 2);
  if (charts.length === 0 && bars.length === 0) {
    throw new UsageError('this log has no chart or table of sizes for gnuplot to draw: use --format html, csv or text');
  }
  const file = quote(basename(datPath));
  const blocks: string[] = [];
  const plots: string[] = [];
  charts.forEach((c, k) => {
    const { div, label } = scale(c.unit);
    const header = ['# t_s', ...c.series.map((s) => s.label.replace(/\s+/g, '_'))].join('\t');
    const rows = c.t.map((t, i) => {
      let acc = 0;
      const vals = c.series.map((s) => {
        const v = s.values[i];
        if (v === null || v === undefined) return c.stacked ? (acc / div).toFixed(4) : '?';
        acc = c.stacked ? acc + v : v;
        return ((c.stacked ? acc : v) / div).toFixed(4);
      });
      return [(t / 1000).toFixed(4), ...vals].join('\t');
    });
    blocks.push(`# chart ${k}: ${c.title} (${label})\n${header}\n${rows.join('\n')}`);
    const marks = (c.marks ?? [])
      .map((m, j) => `set arrow ${j + 1} from ${(m.t / 1000).toFixed(4)}, graph 0 to ${(m.t / 1000).toFixed(4)}, graph 1 nohead front lc rgb "#c0392b" dt 2\nset label ${j + 1} ${quote(m.label)} at ${(m.t / 1000).toFixed(4)}, graph ${0.95 - (j % 4) * 0.05} offset 0.5,0 front tc rgb "#c0392b" font ",8"`)
      .join('\n');
    const style = c.stacked ? 'filledcurves x1' : c.steps ? 'steps' : 'lines';
    // Stacked areas are drawn top first, so each lower one paints over the one above it.
    const order = c.series.map((s, j) => ({ s, j }));
    if (c.stacked) order.reverse();
    // Every plot names the file: '' ("the previous file") fails on a panel's first line.
    const lines = order.map(({ s, j }) => `${file} index ${k} using 1:${j + 2} with ${style} title ${quote(s.label)}`);
    plots.push(`set title ${quote(c.title)}\nset xlabel "seconds"\nset ylabel ${quote(label)}\nunset arrow\nunset label\n${marks}\nplot ${lines.join(', \\\n     ')}`);
  });
  bars.forEach((b, k) => {
    const index = charts.length + k;
    const rows = b.rows.map(([l, v]) => `${quote(l.length > 48 ? '…' + l.slice(-47) : l).replace(/\\"/g, "'")}\t${(v / (1024 * 1024)).toFixed(4)}`);
    blocks.push(`# chart ${index}: ${b.title} (MiB)\n# label\t${b.column}\n${rows.join('\n')}`);
    plots.push(`set title ${quote(b.title)}\nunset xlabel\nset ylabel "MiB"\nset style fill solid 0.8\nset boxwidth 0.8\nset xrange [-0.6:${b.rows.length - 0.4}]\nset yrange [0:*]\nset xtics rotate by 30 right\nplot ${file} index ${index} using 0:2:xtic(1) with boxes title ${quote(b.column)}\nset xtics norotate\nset autoscale xy`);
  });
  const panels = charts.length + bars.length;
  const plt = `# gnuplot script written by memtrace: run "gnuplot ${basename(datPath).replace(/\.dat$/, '.plt')}" in this folder
set terminal png noenhanced size 1200,${panels * (bars.length ? 480 : 360)} font ",9"
set output ${quote(basename(pngPath))}
set datafile missing "?"
set grid
set key outside right
set multiplot layout ${panels},1 title ${quote(report.title)}
${plots.join('\n')}
unset multiplot
`;
  return { dat: blocks.join('\n\n\n') + '\n', plt };
}
