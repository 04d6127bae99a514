import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { formatBytes } from '../core/units.js';
import type { Chart, Report, Section, Table } from './types.js';

const require = createRequire(import.meta.url);

function asset(path: string): string {
  return readFileSync(require.resolve(path), 'utf8');
}

/** Escapes text for HTML. */
export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe to put inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function cellHtml(v: string | number | null, bytes: boolean): string {
  if (typeof v !== 'number') return `<td>${escapeHtml(v ?? '')}</td>`;
  if (bytes) return `<td class="num" title="${v} bytes">${escapeHtml(formatBytes(v))}</td>`;
  return `<td class="num">${escapeHtml(v.toLocaleString('en-US'))}</td>`;
}

function tableHtml(t: Table): string {
  const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const bytes = t.columns.map((c) => t.byteColumns?.includes(c) ?? false);
  const body = t.rows
    .map((r) => `<tr>${r.map((v, i) => cellHtml(v, bytes[i]!)).join('')}</tr>`)
    .join('\n');
  return `${t.title ? `<h2>${escapeHtml(t.title)}</h2>` : ''}<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function sectionHtml(s: Section, i: number): string {
  switch (s.kind) {
    case 'chart':
      return `<h2>${escapeHtml(s.chart.title)}</h2><div class="chart" id="chart${i}"></div>`;
    case 'table':
      return tableHtml(s.table);
    case 'html':
      return `${s.title ? `<h2>${escapeHtml(s.title)}</h2>` : ''}${s.html}`;
  }
}

// Runs in the browser: draws every chart with uPlot (zoom by dragging, double-click resets,
// values on hover in the legend, marks as labelled vertical lines).
const CHART_SCRIPT = String.raw`
(function () {
  var PALETTE = ['#3b6fd4', '#e8833a', '#3aa757', '#c53d3d', '#8a5cc7', '#8c6d31', '#d45ba6', '#6b6b6b', '#17a2b8', '#b5a300'];
  function fmtBytes(v) {
    if (v == null) return '–';
    var a = Math.abs(v), u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (a >= 1024 && i < u.length - 1) { a /= 1024; i++; }
    return (v < 0 ? '-' : '') + a.toFixed(i === 0 ? 0 : a >= 100 ? 0 : a >= 10 ? 1 : 2) + ' ' + u[i];
  }
  function fmt(unit, v) {
    if (v == null) return '–';
    if (unit === 'bytes') return fmtBytes(v);
    if (unit === 'percent') return v.toFixed(1) + ' %';
    if (unit === 'per-second') return Math.round(v).toLocaleString('en-US') + ' /s';
    return (Math.round(v * 100) / 100).toLocaleString('en-US');
  }
  // Byte axes tick at 1, 2, 5… 100, 256, 512 of a binary unit (20 MiB, not 19.1 MiB; 512 KiB steps
  // across a unit, not 500 KiB ones that read 1.46 MiB).
  var BYTE_INCRS = [];
  [1, 1024, 1048576, 1073741824, 1099511627776].forEach(function (u) { [1, 2, 5, 10, 20, 50, 100, 256, 512].forEach(function (m) { BYTE_INCRS.push(m * u); }); });
  function marksPlugin(marks) {
    return { hooks: { draw: [function (u) {
      var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
      ctx.save();
      ctx.font = (11 * devicePixelRatio) + 'px sans-serif';
      // Each label takes the first row where it clears the labels already placed (left to right).
      var rowEnds = [];
      marks.slice().sort(function (a, b) { return a.t - b.t; }).forEach(function (m) {
        var x = Math.round(u.valToPos(m.t / 1000, 'x', true));
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
        ctx.strokeStyle = '#c0392b'; ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
        ctx.fillStyle = '#c0392b';
        // A label that would run past the plot's right edge goes on the left of its line.
        var w = ctx.measureText(m.label).width, gap = 3 * devicePixelRatio;
        var lx = x + gap + w > u.bbox.left + u.bbox.width ? x - gap - w : x + gap;
        var row = 0;
        while (row < rowEnds.length && rowEnds[row] > lx - gap) row++;
        if (row > 5) row = rowEnds.indexOf(Math.min.apply(null, rowEnds));
        rowEnds[row] = lx + w;
        ctx.fillText(m.label, lx, top + (12 + row * 13) * devicePixelRatio);
      });
      ctx.restore();
    }] } };
  }
  window.MEMTRACE_CHARTS.forEach(function (c) {
    var el = document.getElementById(c.id);
    if (!el) return;
    var xs = c.t.map(function (t) { return t / 1000; });
    var data = [xs], series = [{ label: 'time (s)', value: function (u, v) { return v == null ? '–' : v.toFixed(3) + ' s'; } }], bands = [];
    var acc = c.stacked ? xs.map(function () { return 0; }) : null;
    c.series.forEach(function (s, k) {
      var vals = s.values;
      if (acc) {
        vals = vals.map(function (v, j) { acc[j] += (v == null ? 0 : v); return acc[j]; });
      }
      data.push(vals);
      var color = s.color || PALETTE[k % PALETTE.length];
      var raw = s.values;
      series.push({
        label: s.label, stroke: color, width: 1.5,
        fill: c.stacked ? color + '55' : undefined,
        paths: c.steps ? uPlot.paths.stepped({ align: 1 }) : undefined,
        spanGaps: false,
        value: function (u, v, si, i) { return fmt(c.unit, i == null ? v : raw[i]); }
      });
      if (c.stacked && k > 0) bands.push({ series: [k + 1, k], fill: color + '55' });
    });
    if (c.stacked) series.forEach(function (s, k) { if (k > 1) s.fill = undefined; });
    var opts = {
      width: Math.max(600, el.clientWidth || 900), height: 320,
      series: series, bands: bands,
      scales: { x: { time: false } },
      axes: [{ label: 'seconds' }, Object.assign({ size: 80, values: function (u, vs) { return vs.map(function (v) { return fmt(c.unit, v); }); } }, c.unit === 'bytes' ? { incrs: BYTE_INCRS } : {})],
      cursor: { drag: { x: true, y: false } },
      plugins: [marksPlugin(c.marks || [])]
    };
    var plot = new uPlot(opts, data, el);
    window.addEventListener('resize', function () { plot.setSize({ width: Math.max(600, el.clientWidth), height: 320 }); });
  });
})();
`;

/** The text summary: whole when short; when long (a table-heavy tool), its head and the rest folded, so the charts are in view. */
function summaryHtml(text: string): string {
  const lines = text.split('\n');
  if (lines.length <= 25) return `<pre class="summary">${escapeHtml(text)}</pre>`;
  return `<pre class="summary">${escapeHtml(lines.slice(0, 8).join('\n'))}</pre>
<details><summary>the whole text summary (${lines.length} lines)</summary><pre class="summary">${escapeHtml(text)}</pre></details>`;
}

/** Renders a report as one self-contained HTML page (uPlot inlined; nothing is fetched when opened). */
export function renderHtml(report: Report): string {
  const charts = report.sections
    .map((s, i) => (s.kind === 'chart' ? { id: `chart${i}`, ...s.chart } : null))
    .filter((c): c is Chart & { id: string } => c !== null);
  const warnings = report.warnings.length
    ? `<div class="warn">${report.warnings.map((w) => `<div>⚠ ${escapeHtml(w)}</div>`).join('')}</div>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(report.title)}</title>
<style>${asset('uplot/dist/uPlot.min.css')}
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px auto; max-width: 1200px; padding: 0 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 16px; margin: 28px 0 8px; }
pre.summary { background: #f6f7f9; border: 1px solid #e1e4e8; padding: 10px 12px; border-radius: 6px; white-space: pre-wrap; }
.warn { background: #fff6e0; border: 1px solid #f0d58c; padding: 8px 12px; border-radius: 6px; margin: 8px 0; }
table { border-collapse: collapse; margin: 4px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid #e6e6e6; padding: 3px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f6f7f9; }
.chart { width: 100%; }
.hint { color: #666; font-size: 12px; }
</style></head>
<body>
<h1>${escapeHtml(report.title)}</h1>
${warnings}
${summaryHtml(report.text)}
${charts.length ? '<div class="hint">Drag across a chart to zoom, double-click to reset; values at the cursor are in the legend.</div>' : ''}
${report.sections.map(sectionHtml).join('\n')}
<script>${asset('uplot/dist/uPlot.iife.min.js')}</script>
<script>window.MEMTRACE_CHARTS = ${scriptJson(charts)};</script>
<script>${CHART_SCRIPT}</script>
</body></html>
`;
}
