// What a heap log means: the totals, the top sites by line/function/stack, a flame graph of
// the stacks (d3-flame-graph, inlined) and a speedscope export.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { LogContents } from '../../core/log.js';
import { formatBytes, formatDuration } from '../../core/units.js';
import type { Chart, Report, ReportOptions, Section } from '../../report/types.js';
import { PEAK_POLL_MS } from '../../runtime/heap-moments.js';
import { formatSites, formatTotals, type TableContext } from './format.js';
import { heapDataFromLog, type EndRecord, type SeriesPoint } from './heaplog.js';
import { groupSites, stackLabels, totals, chargedFrame, type GroupBy, type HeapData, type StackRow } from './profile.js';

const require = createRequire(import.meta.url);
const BYS: GroupBy[] = ['line', 'function', 'stack'];

/** A node of the flame graph: a frame, its bytes (self and below), its callees. */
export interface FlameNode {
  name: string;
  value: number;
  children: FlameNode[];
}

/** A stack's bytes of one kind: JS heap plus external (Buffers). */
export function bytesOf(row: StackRow, which: 'live' | 'alloc'): number {
  return row[which] + ((which === 'live' ? row.extLive : row.extAlloc) ?? 0);
}

/** The stacks of `data` as a flame-graph tree of `which` bytes, JS heap plus external (user code only; memtrace's own left out). */
export function flameTree(data: HeapData, which: 'live' | 'alloc', expand = false, cwd?: string): FlameNode {
  const root: FlameNode = { name: 'all', value: 0, children: [] };
  for (const row of data.stacks) {
    const v = bytesOf(row, which);
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
  if (data.hasLive) kinds.push(['live', 'live']);
  if (data.hasAlloc) kinds.push(['alloc', 'allocated']);
  for (const [which, label] of kinds) {
    const samples: number[][] = [];
    const weights: number[] = [];
    for (const row of data.stacks) {
      const v = Math.round(bytesOf(row, which));
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

/** What "live" means at the moment the log's stacks were read. */
function liveWord(end: EndRecord | undefined): string {
  const m = end?.moment;
  if (!m || m.kind === 'exit') return 'live at the end';
  const at = formatDuration(m.t);
  if (m.kind === 'peak') return `live at the peak (${at})`;
  if (m.kind === 'mark') return `live at mark '${m.label}' (${at})`;
  if (m.kind === 'signal') return `live at ${m.label} (${at})`;
  return `live at ${at}`;
}

/** The memory line: JS heap, external and ArrayBuffers at the start, peak and end. */
function memoryLines(end: EndRecord | undefined, placed: number, hasExternal: boolean): string[] {
  const mem = end?.memory;
  if (!mem) return [];
  // A peak seen at a GC's start (V8's figures there do not count ArrayBuffers apart) shows "–".
  const at = (v: number | null) => (v === null ? '–' : formatBytes(v));
  const three = (k: 'heapUsed' | 'external' | 'arrayBuffers') => `${formatBytes(mem.start[k])} / ${at(mem.peak[k])} / ${formatBytes(mem.end[k])}`;
  const seen = 'atGc' in mem.peak ? ', at a GC' : '';
  const lines = [`memory start / peak (${formatDuration(mem.peak.t)}${seen}) / end: JS heap ${three('heapUsed')}; external ${three('external')}, of which ArrayBuffers ${three('arrayBuffers')}`];
  if (!hasExternal) {
    lines.push(`ArrayBuffers at the end: ${formatBytes(mem.end.arrayBuffers)}, not placed on JS sites (${end?.moment ? '--no-external' : '--exact'} samples no Buffers)`);
  } else if (end?.moment) {
    const ab = end.moment.memory.arrayBuffers;
    lines.push(`ArrayBuffers at the moment shown: ${formatBytes(ab)}; placed on JS sites (Buffers, sampled): ${formatBytes(placed)}; not placed: ${formatBytes(Math.max(0, ab - placed))} (typed arrays and ArrayBuffers made directly, node's own buffers)`);
  }
  return lines;
}

/** Charts of a series (--every): memory, and the table's biggest sites over time. */
function seriesCharts(data: HeapData, points: SeriesPoint[], by: GroupBy, expand: boolean, cwd: string | undefined, marks: Array<{ t: number; label: string }>): Chart[] {
  if (points.length === 0) return [];
  const t = points.map((p) => p.t);
  const memory: Chart = {
    title: 'Memory at each profile of the series', unit: 'bytes', t, marks,
    series: [
      { label: 'JS heap used', values: points.map((p) => p.memory.heapUsed) },
      { label: 'external', values: points.map((p) => p.memory.external) },
      { label: 'ArrayBuffers', values: points.map((p) => p.memory.arrayBuffers) },
    ],
  };
  // Each point's stacks grouped the way the tables are, so the lines are the table's sites.
  const perPoint = points.map((p) => {
    const stacks = p.values.map(([sid, b, x]) => ({ ...data.stacks[sid]!, live: b, alloc: b, extLive: x, extAlloc: x }));
    return new Map(groupSites({ ...data, stacks, hasLive: true }, { by: by === 'stack' ? 'line' : by, expand, cwd }).map((s) => [s.where, s.live + s.extLive]));
  });
  // The table's biggest sites (its order), over time: the last point is the table.
  const shown = groupSites(data, { by: by === 'stack' ? 'line' : by, expand, cwd }).slice(0, 8);
  const sites: Chart = {
    title: 'The biggest sites over the series (JS heap plus external)', unit: 'bytes', t, marks,
    series: shown.map((s) => ({ label: s.where, values: perPoint.map((m) => m.get(s.where) ?? 0) })),
  };
  return [memory, sites];
}

/** Builds the heap report: totals, the top table, the flame graphs and the speedscope export. */
export function buildReport(log: LogContents, options: ReportOptions): Report {
  const { data, end, points } = heapDataFromLog(log);
  const h = log.header;
  const byOpt = (options.by ?? h.by ?? 'line') as GroupBy;
  const by = BYS.includes(byOpt) ? byOpt : 'line';
  const expand = Boolean(options.expand ?? h.expand ?? false);
  const top = options.top ?? Number(h.top ?? 20);
  const cwd = typeof h.cwd === 'string' ? h.cwd : undefined;
  const mode = h.mode === 'exact' ? 'exact' : 'sampled';
  const t = totals(data);
  // The external column only when Buffers were placed in what the table shows (live bytes when
  // it shows live ones: a Buffer allocated and freed made a column of 0 B): the memory line says the rest.
  const placedExternal = data.hasLive ? t.extLive : t.extAlloc;
  const ctx: TableContext = { by, hasLive: data.hasLive, hasAlloc: data.hasAlloc, mode, hasExternal: !!data.hasExternal && placedExternal > 0, liveWord: liveWord(end) };
  const sites = groupSites(data, { by, expand, cwd });
  const how = mode === 'exact'
    ? 'exact: every object with its allocation stack (allocation tracking + heap snapshot)'
    : `sampled: one sample per ${formatBytes(Number(h.interval_bytes))} allocated on average${h.all ? ', collected objects kept (everything allocated)' : ', live objects only'}`;
  const moment = end?.moment && end.moment.kind !== 'exit' ? `; the profile read ${liveWord(end).replace(/^(held|live) /, '')}, after a full GC` : '';
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
  const placed = data.hasLive ? t.extLive : t.extAlloc;
  const unknown = data.frames.filter((f) => f.why && (f.kind === 'unknown' || f.kind === 'user'));
  const frameNotes = unknown.length
    ? [`note: ${unknown.length} frame${unknown.length > 1 ? 's' : ''} whose script V8 had collected: ${unknown.slice(0, 3).map((f) => `${f.fn} (${f.file || 'unknown script'}: ${f.why})`).join('; ')}${unknown.length > 3 ? '; …' : ''}`]
    : [];
  // At exit the program's own code often holds little of what the heap grew by: temporary data
  // is collected, and so is a CommonJS script's module scope once it has run (not an ES module's).
  const own = sites.filter((s) => !s.where.startsWith('[')).reduce((a, s) => a + s.live + s.extLive, 0);
  const grew = end?.memory ? end.memory.peak.heapUsed + end.memory.peak.external - end.memory.start.heapUsed - end.memory.start.external : 0;
  // At the peak too: the heap is polled while the event loop turns, so what one synchronous
  // stretch builds and drops between two polls is collected before a read can see it live.
  const shownAt = end?.moment?.kind ?? 'exit';
  const emptyNote = data.hasLive && (shownAt === 'exit' || shownAt === 'peak') && grew > 1024 * 1024 && own < 0.1 * grew
    ? [shownAt === 'exit'
      ? `memtrace: at exit the program's own code holds ${formatBytes(own)} of the ${formatBytes(grew)} its heap grew by (the rest was collected before the end: data the run dropped, or a CommonJS script's module scope once it had run): --at peak, --at mark:NAME, --at signal or --every 10s read it while the program runs; --all shows everything allocated`
      : `memtrace: at the highest live heap read (${formatDuration(end!.moment!.t)}) the program's own code holds ${formatBytes(own)} of the ${formatBytes(grew)} its heap grew by, garbage included: the heap is read every ${PEAK_POLL_MS} ms while the event loop turns, and what synchronous code builds and drops between two reads is collected before one sees it live: mark() that moment and use --at mark:NAME, or --all for everything allocated`]
    : [];
  const text = [
    `memtrace heap: ${h.command.join(' ')}`,
    `${how}${moment}${ended}`,
    ...(end?.momentNote ? [`note: ${end.momentNote}`] : []),
    ...memoryLines(end, placed, !!data.hasExternal),
    ...(points.length ? [`series: ${points.length} profiles${h.every_ms ? ` every ${formatDuration(Number(h.every_ms))}` : ''}, the last one the table below (charts in --format html or gnuplot)`] : []),
    ...formatTotals(t, ctx),
    formatSites(sites, t, ctx, top),
    ...emptyNote,
    ...frameNotes,
    ...objectLines,
    ...data.notes.map((n) => `note: ${n}`),
  ].join('\n');
  const graphs: Array<{ id: string; title: string; tree: FlameNode }> = [];
  const lw = liveWord(end);
  if (data.hasLive) graphs.push({ id: 'flame-live', title: `${lw[0]!.toUpperCase()}${lw.slice(1)}, by stack${data.hasExternal ? ' (JS heap plus Buffers\' external bytes)' : ''}`, tree: flameTree(data, 'live', expand, cwd) });
  if (data.hasAlloc) graphs.push({ id: 'flame-alloc', title: 'Allocated (collected objects included), by stack', tree: flameTree(data, 'alloc', expand, cwd) });
  // The counts are V8's samples in sampled mode, objects in exact mode: the columns say which.
  const counted = mode === 'exact' ? 'objects' : 'samples';
  const xl = ctx.hasExternal && data.hasLive, xa = ctx.hasExternal && !data.hasLive;
  const columns = ['where', 'function', ...(data.hasLive ? ['live_bytes', ...(xl ? ['external_bytes'] : []), `live_${counted}`] : []),
    ...(data.hasAlloc ? ['allocated_bytes', ...(xa ? ['external_bytes'] : []), `allocated_${counted}`] : [])];
  const byteColumns = ['live bytes', 'allocated bytes', 'external bytes', 'shallow bytes', 'retained bytes', 'native bytes'];
  // The CSV keeps field names (live_bytes); the HTML table is headed in words.
  const headings = columns.map((c) => c.replace(/_/g, ' '));
  const rowOf = (s: (typeof sites)[number]) => [s.where, s.fn, ...(data.hasLive ? [Math.round(s.live), ...(xl ? [Math.round(s.extLive)] : []), s.liveCount] : []),
    ...(data.hasAlloc ? [Math.round(s.alloc), ...(xa ? [Math.round(s.extAlloc)] : []), s.allocCount] : [])];
  const marks = log.records.filter((r) => typeof r.mark === 'string').map((r) => ({ t: r.t, label: String(r.mark) }));
  // The CLI's summary at exit needs only the text: the flame graph inlines ~15 files of d3.
  const textOnly = options.textOnly === true;
  const sections: Section[] = [
    ...seriesCharts(data, points, by, expand, cwd, marks).map((chart): Section => ({ kind: 'chart', chart })),
    ...(textOnly ? [] : [{ kind: 'html' as const, title: 'Flame graph of allocations by stack', html: flameSection(graphs) }]),
    { kind: 'table', table: { title: `Top ${Math.min(top, sites.length)} sites by ${by}`, columns: headings, rows: sites.slice(0, top).map(rowOf), byteColumns } },
  ];
  if (objects?.length) {
    sections.push({
      kind: 'table',
      table: hasRetained
        ? { title: 'Live objects at the end by constructor, by retained size', columns: ['constructor', 'count', 'shallow bytes', 'retained bytes', 'native bytes'], rows: objects.slice(0, top).map(([n, c, b, r, nat]) => [n, c, b, r ?? 0, nat ?? 0]), byteColumns }
        : { title: 'Live objects at the end by constructor', columns: ['constructor', 'count', 'shallow bytes'], rows: objects.slice(0, top).map(([n, c, b]) => [n, c, b]), byteColumns },
    });
  }
  return {
    title: `memtrace heap: ${h.command.join(' ')}`,
    summary: {
      tool: 'heap', command: h.command, mode, intervalBytes: h.interval_bytes, all: !!h.all, by,
      totals: t, end: end ? { reason: end.reason, exitCode: end.exitCode, durationMs: end.durationMs, writeMs: end.writeMs } : null,
      at: end?.moment ?? null, memory: end?.memory ?? null, external: data.hasExternal ? { placed, notPlaced: end?.moment ? Math.max(0, end.moment.memory.arrayBuffers - placed) : null } : null,
      series: points.length,
      top: sites.slice(0, top), notes: data.notes,
      objects: objects?.map(([name, count, bytes, retained, native]) => ({ name, count, bytes, ...(retained !== undefined ? { retained, native: native ?? 0 } : {}) })) ?? null,
    },
    text,
    sections,
    table: { columns, rows: sites.map(rowOf) },
    warnings: [],
    ...(textOnly ? {} : { speedscope: speedscopeFile(data, `memtrace heap: ${h.command.join(' ')}`, expand, cwd) }),
  };
}
