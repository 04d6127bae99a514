import { basename } from 'node:path';
import type { Chart, Report } from './types.js';

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

/**
 * Writes each chart of the report as a data block of the .dat (one column per series, times in
 * seconds, "?" where unknown) and a .plt that plots them into `pngPath`, one panel per chart.
 */
export function renderGnuplot(report: Report, datPath: string, pngPath: string): GnuplotFiles {
  const charts = report.sections.flatMap((s) => (s.kind === 'chart' ? [s.chart] : []));
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
    const lines = c.series
      .map((s, j) => {
        const style = c.stacked ? 'filledcurves x1' : c.steps ? 'steps' : 'lines';
        return `${j === 0 ? `"${basename(datPath)}"` : "''"} index ${k} using 1:${j + 2} with ${style} title ${quote(s.label)}`;
      });
    if (c.stacked) lines.reverse();
    plots.push(`set title ${quote(c.title)}\nset ylabel ${quote(label)}\nunset arrow\nunset label\n${marks}\nplot ${lines.join(', \\\n     ')}`);
  });
  const plt = `# gnuplot script written by memtrace: run "gnuplot ${basename(datPath).replace(/\.dat$/, '.plt')}" in this folder
set terminal png size 1200,${Math.max(1, charts.length) * 360} font ",9"
set output ${quote(basename(pngPath))}
set datafile missing "?"
set grid
set key outside right
set xlabel "seconds"
set multiplot layout ${Math.max(1, charts.length)},1 title ${quote(report.title)}
${plots.join('\n')}
unset multiplot
`;
  return { dat: blocks.join('\n\n\n') + '\n', plt };
}
