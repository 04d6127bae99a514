import { formatBytes } from '../../core/units.js';

/** Memory moved by one function's events (or one line's, with line events). */
export interface FunctionMemory {
  /** `name (file:line)`, or `file:line` for line events. */
  where: string;
  fn?: string;
  /** A call into code that is not instrumented (`--native`): `fn` is the callee, file:line the call site. */
  native?: boolean;
  /** The trace's end events: moves after its last event (no function, file or line). */
  end?: boolean;
  file: string;
  line: number;
  /** Events written for it (call, return, throw or line). */
  events: number;
  calls: number;
  /** Sum of ΔRSS over its events. */
  sumDrss: number;
  /** Largest single ΔRSS. */
  maxDrss: number;
}

/** What a calls trace found, as numbers. */
export interface CallsSummary {
  events: number;
  durationMs: number;
  rssStart: number | null;
  rssPeak: number | null;
  rssEnd: number | null;
  maxDepth: number;
  marks: number;
  /** Functions whose events moved memory most, by sum of ΔRSS (largest first). */
  top: FunctionMemory[];
  /** Files in scope that could not be instrumented and ran without probes, with the reason. */
  uninstrumented: Array<{ file: string; reason: string }>;
  /** Instrumented files that ran, where the log says (its end records), else null. */
  instrumentedFiles: number | null;
  /** Processes of the program that ran the probes, where the log says (written by `memtrace calls` when none wrote an event), else null. */
  processes: number | null;
}

const END_WHERE = '(after the last event, to the end of the trace)';

/** Summarises the records of a calls trace (events and marks). */
export function summarizeCalls(records: Array<Record<string, unknown>>, top = 20): CallsSummary {
  const byKey = new Map<string, FunctionMemory>();
  let events = 0, marks = 0, maxDepth = 0, durationMs = 0;
  const uninstrumented: Array<{ file: string; reason: string }> = [];
  let instrumentedFiles: number | null = null, processes: number | null = null;
  let rssStart: number | null = null, rssPeak: number | null = null, rssEnd: number | null = null;
  for (const r of records) {
    if (typeof r.t === 'number') durationMs = Math.max(durationMs, r.t);
    if (typeof r.mark === 'string') { marks++; continue; }
    const end = r.end as { uninstrumented?: Array<{ file: string; reason: string }>; instrumented_files?: number; processes?: number } | undefined;
    if (end && typeof end === 'object') {
      if (Array.isArray(end.uninstrumented)) uninstrumented.push(...end.uninstrumented);
      if (typeof end.instrumented_files === 'number') instrumentedFiles = (instrumentedFiles ?? 0) + end.instrumented_files;
      if (typeof end.processes === 'number') processes = (processes ?? 0) + end.processes;
      continue;
    }
    if (typeof r.ev !== 'string') continue;
    events++;
    const rss = r.rss as number, drss = r.drss as number;
    if (rssStart === null) rssStart = rss - drss;
    rssEnd = rss;
    if (rssPeak === null || rss > rssPeak) rssPeak = rss;
    if ((r.depth as number) > maxDepth) maxDepth = r.depth as number;
    const fn = r.fn as string | undefined;
    const native = r.native === true;
    const atEnd = r.ev === 'end';
    const key = atEnd ? '\0end' : `${fn ?? ''}\0${r.file}\0${r.line}\0${native}`;
    let m = byKey.get(key);
    if (!m) {
      const where = atEnd ? END_WHERE : fn ? `${fn}${native ? ' [native]' : ''} (${r.file}:${r.line})` : `${r.file}:${r.line}`;
      m = { where, fn, file: atEnd ? '' : r.file as string, line: atEnd ? 0 : r.line as number, events: 0, calls: 0, sumDrss: 0, maxDrss: -Infinity };
      if (native) m.native = true;
      if (atEnd) m.end = true;
      byKey.set(key, m);
    }
    m.events++;
    if (r.ev === 'call') m.calls++;
    m.sumDrss += drss;
    if (drss > m.maxDrss) m.maxDrss = drss;
  }
  const list = [...byKey.values()].sort((a, b) => b.sumDrss - a.sumDrss || b.maxDrss - a.maxDrss).slice(0, top);
  return { events, durationMs, rssStart, rssPeak, rssEnd, maxDepth, marks, top: list, uninstrumented, instrumentedFiles, processes };
}

/** The summary for people: one paragraph and the top table. */
export function formatCallsSummary(s: CallsSummary, top = 10): string {
  const lines: string[] = [];
  const skipped = s.uninstrumented.length === 0 ? ''
    : `${s.uninstrumented.length} file${s.uninstrumented.length > 1 ? 's' : ''} in scope could not be instrumented, and their functions ran without probes: ` +
      s.uninstrumented.slice(0, 5).map((u) => `${u.file} (${u.reason.replace(/^cannot instrument [^:]*: /, '').replace(/ \(left as it is\)$/, '')})`).join(', ') +
      (s.uninstrumented.length > 5 ? `, and ${s.uninstrumented.length - 5} more` : '');
  if (s.events === 0) {
    if (skipped) return `no event written: ${skipped}`;
    if (s.processes === 0) return 'no event written: no process of the program ran memtrace\'s probes (not a node program, or it never started node: look at its own output above)';
    if (s.instrumentedFiles === 0) return 'no event written: no instrumented file ran (a file whose functions only read and compute gets no probes; node_modules is out of scope unless --include names it, --exclude takes files out)';
    return 'no event written: no instrumented function ran while memory moved';
  }
  if (skipped) lines.push(skipped);
  lines.push(`${s.events} events over ${s.durationMs.toFixed(1)} ms, max depth ${s.maxDepth}; RSS ${formatBytes(s.rssStart ?? 0)} -> peak ${formatBytes(s.rssPeak ?? 0)} -> end ${formatBytes(s.rssEnd ?? 0)}`);
  lines.push('functions whose events moved RSS most:');
  lines.push(`${'sum ΔRSS'.padStart(12)} ${'max ΔRSS'.padStart(12)} ${'events'.padStart(7)}  function (file:line)`);
  for (const f of s.top.slice(0, top)) {
    lines.push(`${formatBytes(f.sumDrss, true).padStart(12)} ${formatBytes(f.maxDrss, true).padStart(12)} ${String(f.events).padStart(7)}  ${f.where}`);
  }
  return lines.join('\n');
}
