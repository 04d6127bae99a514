// What a spaces log means: the spaces at start and end and their change, a stacked chart of
// space used over time, the heap statistics, and one CSV row per snapshot.
import { CorruptLogError, type LogContents, type LogRecord } from '../../core/log.js';
import { formatBytes } from '../../core/units.js';
import type { Chart, Report, ReportOptions, Section, Table } from '../../report/types.js';
import { CODE_LABELS, HEAP_LABELS, PROCESS_LABELS, SpacesDiff, textTable } from './diff.js';
import type { SpacesSnapshot } from '../../runtime/spaces-snapshot.js';

/** A snapshot record of the log. */
type SnapshotRecord = LogRecord & Omit<SpacesSnapshot, 'time'> & { at: string; label?: string; reason?: string };

const SPACE_COLORS: Record<string, string> = {
  'new': '#3aa757', 'old': '#3b6fd4', 'code': '#e8833a', 'large-object': '#8a5cc7', 'new-large-object': '#17a2b8',
  'code-large-object': '#d45ba6', 'read-only': '#6b6b6b', 'map': '#b5a300', 'shared': '#8c6d31', 'trusted': '#c53d3d',
};

function snapshotOf(r: SnapshotRecord): SpacesSnapshot {
  const s: SpacesSnapshot = { time: r.t, spaces: r.spaces, heap: r.heap, process: r.process };
  if (r.code) s.code = r.code;
  return s;
}

const COUNT_LABELS = new Set([HEAP_LABELS.nativeContexts, HEAP_LABELS.detachedContexts]);

function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A table whose numeric cells (from column `firstNumber` on) read as sizes, exact bytes on hover; change columns signed. */
function bytesTableHtml(t: Table, firstNumber: number, countRows = new Set<string>()): string {
  const head = t.columns.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = t.rows.map((r) => {
    const isCount = r.some((v) => typeof v === 'string' && countRows.has(v));
    return `<tr>${r.map((v, i) => {
      if (i < firstNumber || typeof v !== 'number') return `<td>${esc(v ?? '')}</td>`;
      const signed = /change/.test(t.columns[i]!);
      const text = isCount ? `${signed && v > 0 ? '+' : ''}${v}` : signed && v === 0 ? '·' : formatBytes(v, signed);
      return `<td class="num" title="${v} bytes">${esc(text)}</td>`;
    }).join('')}</tr>`;
  }).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Builds the spaces report from its log. */
export function buildReport(log: LogContents, options: ReportOptions = {}): Report {
  const all = options.all === true;
  const { header } = log;
  const warnings: string[] = [];
  const snaps = log.records.filter((r): r is SnapshotRecord => typeof r.at === 'string' && typeof r.spaces === 'object' && r.spaces !== null);
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  const bad = snaps.findIndex((r) => !isObject(r.heap) || !isObject(r.process) || !Object.values(r.spaces).every(isObject));
  if (bad >= 0) throw new CorruptLogError(`snapshot ${bad + 1} (t=${snaps[bad]!.t} ms) lacks its spaces, heap or process figures`);
  const marks = log.records.filter((r) => typeof r.mark === 'string').map((r) => ({ t: r.t, label: String(r.mark) }));
  const ended = log.records.find((r) => r.ended === true);
  const command = Array.isArray(header.command) ? header.command.join(' ') : '';
  const title = `memtrace spaces: ${command}`;
  const threshold = typeof header.threshold === 'number' ? header.threshold : undefined;

  if (snaps.length === 0) {
    warnings.push('the log holds no snapshot: the program ended before the probe loaded, or it is not a node program');
    return {
      title, summary: { tool: 'spaces', command: header.command, snapshots: 0 },
      text: `${title}\n  no snapshot in this log`, sections: [], table: { columns: ['t_ms'], rows: [] }, warnings,
    };
  }
  const first = snaps[0]!;
  const last = snaps[snaps.length - 1]!;
  const exit = snaps.find((s) => s.at === 'exit');
  if (!exit) warnings.push('no exit snapshot (the program was killed, or the log was cut): the end is the last snapshot');
  const end = exit ?? last;
  const d = new SpacesDiff(snapshotOf(first), snapshotOf(end), threshold);

  // Spaces: every space that held anything at start or end.
  const names = Object.keys(d.spaces).filter((n) => {
    if (all) return true;
    const s = d.spaces[n]!;
    return s.used.before || s.used.after || s.committed.before || s.committed.after;
  });
  const spaceRows = names.map((n) => {
    const s = d.spaces[n]!;
    return [n, s.used.before, s.used.after, s.used.change, s.committed.before, s.committed.after, s.committed.change, s.physical.after, s.available.after];
  });
  const spaceTable: Table = {
    title: 'Heap spaces: start, end and change (exact bytes on hover; CSV has them all)',
    columns: ['space', 'used start', 'used end', 'used change', 'committed start', 'committed end', 'committed change', 'physical end', 'available end'],
    rows: spaceRows,
  };
  const figureRows: Table['rows'] = [];
  const addGroup = (group: string, labels: Record<string, string>, data: Record<string, { before: number; after: number; change: number }> | undefined) => {
    if (!data) return;
    for (const [k, label] of Object.entries(labels)) {
      const c = data[k]!;
      figureRows.push([group, label, c.before, c.after, c.change]);
    }
  };
  addGroup('heap', HEAP_LABELS, d.heap as unknown as Record<string, { before: number; after: number; change: number }>);
  addGroup('code', CODE_LABELS, d.code as unknown as Record<string, { before: number; after: number; change: number }> | undefined);
  addGroup('process.memoryUsage()', PROCESS_LABELS, d.process as unknown as Record<string, { before: number; after: number; change: number }>);
  const figureTable: Table = { title: 'Heap statistics, code sizes and process.memoryUsage(): start, end and change', columns: ['group', 'figure', 'start', 'end', 'change'], rows: figureRows };

  // Text: the space table in full, then the significant changes of everything else.
  const fmt = (v: number, signed = false) => (signed && v === 0 ? '·' : formatBytes(v, signed));
  const lines: string[] = [title];
  const how = [exit?.reason && exit.reason !== 'exit' ? exit.reason : '', typeof exit?.exitCode === 'number' ? `code ${exit.exitCode}` : ''].filter(Boolean).join(', ');
  const endWhat = exit ? `exit${how ? ` (${how})` : ''}` : 'the last snapshot';
  lines.push(`  ${snaps.length} snapshot${snaps.length === 1 ? '' : 's'}${header.interval_ms ? ` (every ${header.interval_ms} ms)` : ''}: start at ${(first.t / 1000).toFixed(2)} s, ${endWhat} at ${(end.t / 1000).toFixed(2)} s`);
  if (exit) { /* the exit snapshot says how it ended */ } else if (ended && typeof ended.exitCode === 'number') lines.push(`  the program exited with code ${ended.exitCode}`);
  else if (ended && ended.signal) lines.push(`  the program was ended by ${String(ended.signal)}`);
  lines.push('');
  lines.push(textTable([
    ['space', 'used start', 'used end', 'change', 'committed start', 'committed end', 'change'],
    ...names.map((n) => {
      const s = d.spaces[n]!;
      return [n, fmt(s.used.before), fmt(s.used.after), fmt(s.used.change, true), fmt(s.committed.before), fmt(s.committed.after), fmt(s.committed.change, true)];
    }),
  ]));
  const rest = d.format({ title: '', spaces: false, labels: ['start', 'end'], all, hiddenHint: typeof options.hiddenHint === 'string' ? options.hiddenHint : '--format json has every figure' });
  if (rest) lines.push('', rest);
  let peakUsed = 0, peakT = 0;
  for (const s of snaps) if (s.heap.usedHeapSize > peakUsed) { peakUsed = s.heap.usedHeapSize; peakT = s.t; }
  const markSnaps = snaps.filter((m) => m.at === 'mark');
  if (markSnaps.length) {
    lines.push('', 'marks');
    lines.push(textTable([['', 'at', 'used heap', 'since start', 'external', 'rss'], ...markSnaps.map((m) => [
      String(m.label ?? ''), `${(m.t / 1000).toFixed(3)} s`, formatBytes(m.heap.usedHeapSize),
      formatBytes(m.heap.usedHeapSize - first.heap.usedHeapSize, true), formatBytes(m.heap.externalMemory), formatBytes(m.process.rss)])]));
  }
  if (snaps.length > 2) lines.push('', `  peak used heap ${formatBytes(peakUsed)} at ${(peakT / 1000).toFixed(2)} s`);

  // Charts: space used, stacked; heap-wide figures as lines.
  const t = snaps.map((s) => s.t);
  const chartNames = names.filter((n) => snaps.some((s) => (s.spaces[n]?.used ?? 0) > 0));
  const usedChart: Chart = {
    title: 'Used bytes per V8 heap space (stacked)', unit: 'bytes', stacked: true, t, marks,
    series: chartNames.map((n) => ({ label: n, values: snaps.map((s) => s.spaces[n]?.used ?? null), ...(SPACE_COLORS[n] ? { color: SPACE_COLORS[n] } : {}) })),
  };
  const heapChart: Chart = {
    title: 'Heap committed and used, external and malloced memory, RSS', unit: 'bytes', t, marks,
    series: [
      { label: 'heap committed', values: snaps.map((s) => s.heap.totalHeapSize) },
      { label: 'used heap', values: snaps.map((s) => s.heap.usedHeapSize) },
      { label: 'external', values: snaps.map((s) => s.heap.externalMemory) },
      { label: 'malloced', values: snaps.map((s) => s.heap.mallocedMemory) },
      { label: 'rss', values: snaps.map((s) => s.process.rss) },
    ],
  };
  const sections: Section[] = [
    { kind: 'chart', chart: usedChart },
    { kind: 'html', title: spaceTable.title, html: bytesTableHtml(spaceTable, 1) },
    { kind: 'chart', chart: heapChart },
    { kind: 'html', title: figureTable.title, html: bytesTableHtml(figureTable, 2, COUNT_LABELS) },
  ];

  // CSV: one row per snapshot.
  const allNames = Object.keys(d.spaces);
  const heapKeys = Object.keys(HEAP_LABELS) as Array<keyof SpacesSnapshot['heap']>;
  const procKeys = Object.keys(PROCESS_LABELS) as Array<keyof SpacesSnapshot['process']>;
  const codeKeys = Object.keys(CODE_LABELS) as Array<keyof NonNullable<SpacesSnapshot['code']>>;
  const table: Table = {
    columns: ['t_ms', 'at', 'label',
      ...allNames.flatMap((n) => [`${n}_used`, `${n}_committed`, `${n}_available`, `${n}_physical`]),
      ...heapKeys, ...codeKeys, ...procKeys.map((k) => `process_${k}`)],
    rows: snaps.map((s) => [s.t, s.at, s.label ?? null,
      ...allNames.flatMap((n) => { const f = s.spaces[n]; return f ? [f.used, f.committed, f.available, f.physical] : [null, null, null, null]; }),
      ...heapKeys.map((k) => s.heap[k] ?? null), ...codeKeys.map((k) => s.code?.[k] ?? null), ...procKeys.map((k) => s.process[k] ?? null)]),
  };

  const summary: Record<string, unknown> = {
    tool: 'spaces',
    command: header.command,
    node: header.node,
    snapshots: snaps.length,
    startMs: first.t,
    endMs: end.t,
    end: exit ? 'exit' : 'last snapshot',
    exitReason: exit?.reason ?? null,
    exitCode: ended?.exitCode ?? null,
    signal: ended?.signal ?? null,
    peakUsedHeap: peakUsed,
    changedSpaces: d.changedSpaces(),
    ...d.toJSON(),
  };
  return { title, summary, text: lines.join('\n'), sections, table, warnings };
}
