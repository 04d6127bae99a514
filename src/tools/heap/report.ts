// What a heap log means: the totals, the top sites by line/function/stack, a flame graph of
// the stacks (d3-flame-graph, inlined) and a speedscope export.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { LogContents } from '../../core/log.js';
import { formatBytes, formatDuration } from '../../core/units.js';
import type { Report, ReportOptions, Section } from '../../report/types.js';
import { formatSites, formatTotals, type TableContext } from './format.js';
import { heapDataFromLog } from './heaplog.js';
import { groupSites, stackLabels, totals, chargedFrame, type GroupBy, type HeapData } from './profile.js';

const require = createRequire(import.meta.url);
const BYS: GroupBy[] = ['line', 'function', 'stack'];

/** A node of the flame graph: a frame, its bytes (self and below), its callees. */
export interface FlameNode {
  name: string;
  value: number;
  children: FlameNode[];
}

/** The stacks of `data` as a flame-graph tree of `which` bytes (user code only; memtrace's own left out). */
export function flameTree(data: HeapData, which: 'live' | 'alloc', expand = false, cwd?: string): FlameNode {
  const root: FlameNode = { name: 'all', value: 0, children: [] };
  for (const row of data.stacks) {
    const v = row[which];
    if (!(v > 0) || chargedFrame(data.frames, row.frames).tool) continue;
    let node = root;
    root.value += v;
    for (const label of stackLabels(data, row, { expand, cwd })) {
      let child = node.children.find((c) => c.name === label);
      if (!child) { child = { name: label, value: 0, children: [] }; node.children.push(child); }
      child.value += v;
      node = child;
    }
  }
  return root;
}

/** The stacks as a speedscope file (https://www.speedscope.app/file-format-schema.json): one sampled profile per kind of bytes. */
export function speedscopeFile(data: HeapData, name: string, expand = false, cwd?: string): Record<string, unknown> {
  const frames: Array<{ name: string }> = [];
  const ids = new Map<string, number>();
  const profiles: Array<Record<string, unknown>> = [];
  const kinds: Array<['live' | 'alloc', string]> = [];
  if (data.hasLive) kinds.push(['live', 'live at the end']);
  if (data.hasAlloc) kinds.push(['alloc', 'allocated']);
  for (const [which, label] of kinds) {
    const samples: number[][] = [];
    const weights: number[] = [];
    for (const row of data.stacks) {
      const v = Math.round(row[which]);
      if (!(v > 0) || chargedFrame(data.frames, row.frames).tool) continue;
      samples.push(stackLabels(data, row, { expand, cwd }).map((l) => {
        let id = ids.get(l);
        if (id === undefined) { id = frames.length; frames.push({ name: l }); ids.set(l, id); }
        return id;
      }));
      weights.push(v);
    }
    const total = weights.reduce((a, b) => a + b, 0);
    profiles.push({ type: 'sampled', name: `${name} — ${label}`, unit: 'bytes', startValue: 0, endValue: total, samples, weights });
  }
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    exporter: 'memtrace heap',
    name,
    activeProfileIndex: 0,
    shared: { frames },
    profiles,
  };
}

function packageFile(pkg: string, file: string): string {
  const fg = dirname(dirname(require.resolve('d3-flame-graph')));
  for (const base of [join(fg, 'node_modules', pkg), join(dirname(fg), pkg)]) {
    const p = join(base, file);
    if (existsSync(p)) return p;
  }
  throw new Error(`cannot find ${pkg}/${file} (a dependency of d3-flame-graph)`);
}

// The d3 modules d3-flame-graph needs, in dependency order (UMD builds, each adding to window.d3).
const D3 = ['internmap', 'd3-array', 'd3-color', 'd3-interpolate', 'd3-format', 'd3-time', 'd3-time-format', 'd3-scale',
  'd3-dispatch', 'd3-selection', 'd3-timer', 'd3-ease', 'd3-transition', 'd3-hierarchy'];

function inlineScript(code: string): string {
  return `<script>${code.replace(/<\/script/gi, '<\\/script')}</script>`;
}

/** The flame-graph section: d3 and d3-flame-graph inlined, one graph per kind of bytes. */
function flameSection(graphs: Array<{ id: string; title: string; tree: FlameNode }>): string {
  const libs = D3.map((p) => inlineScript(readFileSync(packageFile(p, `dist/${p}.min.js`), 'utf8'))).join('\n');
  const fg = dirname(require.resolve('d3-flame-graph'));
  const css = readFileSync(join(fg, 'd3-flamegraph.css'), 'utf8');
  const lib = readFileSync(join(fg, 'd3-flamegraph.umd.min.js'), 'utf8');
  const json = JSON.stringify(graphs.map((g) => ({ id: g.id, tree: g.tree }))).replace(/</g, '\\u003c');
  const divs = graphs.map((g) => `<h3>${g.title}</h3><div class="hint">Click a frame to zoom in, click the bottom bar to zoom out; hover for bytes.</div><div id="${g.id}" class="flame"></div>`).join('\n');
  return `<style>${css} .flame { width: 100%; } h3 { font-size: 14px; margin: 18px 0 4px; }</style>
${divs}
${libs}
${inlineScript(lib)}
<script>
(function () {
  function fmt(v) { var u = ['B', 'KiB', 'MiB', 'GiB'], i = 0; while (v >= 1024 && i < 3) { v /= 1024; i++; } return v.toFixed(i ? 1 : 0) + ' ' + u[i]; }
  var graphs = ${json};
  graphs.forEach(function (g) {
    var el = document.getElementById(g.id);
    var total = g.tree.value || 1;
    var chart = (flamegraph.default || flamegraph.flamegraph)().width(Math.max(600, el.clientWidth || 1100)).cellHeight(18).minFrameSize(2)
      .label(function (d) { return d.data.name + ': ' + fmt(d.value) + ' (' + (100 * d.value / total).toFixed(1) + '%)'; });
    d3.select(el).datum(g.tree).call(chart);
  });
})();
</script>`;
}

/** Builds the heap report: totals, the top table, the flame graphs and the speedscope export. */
export function buildReport(log: LogContents, options: ReportOptions): Report {
  const { data, end } = heapDataFromLog(log);
  const h = log.header;
  const byOpt = (options.by ?? h.by ?? 'line') as GroupBy;
  const by = BYS.includes(byOpt) ? byOpt : 'line';
  const expand = Boolean(options.expand ?? h.expand ?? false);
  const top = options.top ?? Number(h.top ?? 20);
  const cwd = typeof h.cwd === 'string' ? h.cwd : undefined;
  const mode = h.mode === 'exact' ? 'exact' : 'sampled';
  const ctx: TableContext = { by, hasLive: data.hasLive, hasAlloc: data.hasAlloc, mode };
  const t = totals(data);
  const sites = groupSites(data, { by, expand, cwd });
  const how = mode === 'exact'
    ? 'exact: every object with its allocation stack (allocation tracking + heap snapshot)'
    : `sampled: one sample per ${formatBytes(Number(h.interval_bytes))} allocated on average${h.all ? ', collected objects kept (everything allocated)' : ', live objects only'}`;
  const ended = end ? `; ran ${formatDuration(end.durationMs)}, ended by ${end.reason === 'exit' ? `exit code ${end.exitCode}` : end.reason}; writing the profile took ${formatDuration(end.writeMs)}` : '';
  // [class, count, shallow, retained, native]: logs before retained sizes hold the first three.
  const objects = log.records.find((r) => r.ev === 'objects')?.counts as Array<[string, number, number, number?, number?]> | undefined;
  const hasRetained = !!objects?.length && objects[0]![3] !== undefined;
  const objectLines = objects?.length
    ? hasRetained
      ? ['live objects at the end by constructor, biggest retained size first (strings, arrays, closures, native stores included):',
        `  ${'count'.padStart(8)}  ${'shallow'.padStart(10)}  ${'retained'.padStart(10)}  ${'native'.padStart(10)}  constructor`,
        ...objects.slice(0, Math.min(top, 10)).map(([name, n, bytes, retained, native]) =>
          `  ${String(n).padStart(8)}  ${formatBytes(bytes).padStart(10)}  ${formatBytes(retained ?? 0).padStart(10)}  ${(native ? formatBytes(native) : '').padStart(10)}  ${name}`)]
      : ['live objects at the end by constructor (most first):',
        ...objects.slice(0, Math.min(top, 10)).map(([name, n, bytes]) => `  ${String(n).padStart(8)}  ${formatBytes(bytes).padStart(10)}  ${name}`)]
    : [];
  const text = [
    `memtrace heap: ${h.command.join(' ')}`,
    `${how}${ended}`,
    ...formatTotals(t, ctx),
    formatSites(sites, t, ctx, top),
    ...objectLines,
    ...data.notes.map((n) => `note: ${n}`),
  ].join('\n');
  const graphs: Array<{ id: string; title: string; tree: FlameNode }> = [];
  if (data.hasLive) graphs.push({ id: 'flame-live', title: 'Live at the end, by stack', tree: flameTree(data, 'live', expand, cwd) });
  if (data.hasAlloc) graphs.push({ id: 'flame-alloc', title: 'Allocated (collected objects included), by stack', tree: flameTree(data, 'alloc', expand, cwd) });
  const columns = ['where', 'function', ...(data.hasLive ? ['live_bytes', 'live_count'] : []), ...(data.hasAlloc ? ['allocated_bytes', 'allocated_count'] : [])];
  const rowOf = (s: (typeof sites)[number]) => [s.where, s.fn, ...(data.hasLive ? [Math.round(s.live), s.liveCount] : []), ...(data.hasAlloc ? [Math.round(s.alloc), s.allocCount] : [])];
  const sections: Section[] = [
    { kind: 'html', title: 'Flame graph of allocations by stack', html: flameSection(graphs) },
    { kind: 'table', table: { title: `Top ${Math.min(top, sites.length)} sites by ${by}`, columns, rows: sites.slice(0, top).map(rowOf) } },
  ];
  if (objects?.length) {
    sections.push({
      kind: 'table',
      table: hasRetained
        ? { title: 'Live objects at the end by constructor, by retained size', columns: ['constructor', 'count', 'shallow bytes', 'retained bytes', 'native bytes'], rows: objects.slice(0, top).map(([n, c, b, r, nat]) => [n, c, b, r ?? 0, nat ?? 0]) }
        : { title: 'Live objects at the end by constructor', columns: ['constructor', 'count', 'shallow bytes'], rows: objects.slice(0, top).map(([n, c, b]) => [n, c, b]) },
    });
  }
  return {
    title: `memtrace heap: ${h.command.join(' ')}`,
    summary: {
      tool: 'heap', command: h.command, mode, intervalBytes: h.interval_bytes, all: !!h.all, by,
      totals: t, end: end ? { reason: end.reason, exitCode: end.exitCode, durationMs: end.durationMs, writeMs: end.writeMs } : null,
      top: sites.slice(0, top), notes: data.notes,
      objects: objects?.map(([name, count, bytes, retained, native]) => ({ name, count, bytes, ...(retained !== undefined ? { retained, native: native ?? 0 } : {}) })) ?? null,
    },
    text,
    sections,
    table: { columns, rows: sites.map(rowOf) },
    warnings: [],
    speedscope: speedscopeFile(data, `memtrace heap: ${h.command.join(' ')}`, expand, cwd),
  };
}
