// The verdict for people: the leaks (slope, totals, retained size, site, path), then what else
// moved and why it is not a leak, then the heap figures per iteration.
import { formatBytes } from '../../core/units.js';
import type { LeakAnalysis } from './detect.js';

/** Where a group's objects were allocated, in words: "allocated in fn (file:line:col)", "allocated by (V8 API)" for native code. */
export function allocatedWhere(g: { site?: string | null; fn?: string | null }): string {
  if (g.site === '(native code)') return `allocated by ${g.fn || 'native code'}`;
  return g.site ? `allocated in ${g.fn || '(anonymous)'} (${g.site})` : 'allocation site unknown (no allocation stacks in these snapshots)';
}

/** The cheap figures of one measured boundary. */
export interface IterationFigures {
  k: number;
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

/** What a run measured besides the snapshots. */
export interface RunInfo {
  warmup: number;
  iterations: number;
  figures: IterationFigures[];
}

const rate = (n: number) => (Math.abs(n) >= 10 ? String(Math.round(n)) : n.toFixed(1).replace(/\.0$/, ''));

function grewCount(values: number[]): number {
  let n = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[i - 1]!) n++;
  return n;
}

/** The text report of a verdict. */
export function formatAnalysis(a: LeakAnalysis, run: RunInfo): string {
  const out: string[] = [];
  const measured = `${run.iterations} measured iteration${run.iterations === 1 ? '' : 's'}${run.warmup ? ` after ${run.warmup} warm-up` : ''}`;
  const snaps = a.positions.length;
  if (a.leaks.length === 0) out.push(`memtrace leaks: no leak found in ${measured} (${snaps} heap snapshots compared)`);
  else out.push(`memtrace leaks: ${a.leaks.length} leak${a.leaks.length === 1 ? '' : 's'} found in ${measured} (${snaps} heap snapshots compared)`);
  a.leaks.forEach((l, i) => {
    out.push('');
    out.push(`${i + 1}. ${l.title}`);
    out.push(`   grew in ${l.grew} of ${l.measured} intervals between snapshots; +${rate(l.objectsPerIteration)} objects and ${formatBytes(l.bytesPerIteration, true)} per iteration; ` +
      `${l.totalObjects.toLocaleString('en-US')} objects (${formatBytes(l.totalBytes)}) born since the baseline still alive; the holder retains ${formatBytes(l.retainedSize)}`);
    if (l.entries) out.push(`   entries: ${l.entries.map((e) => e.toLocaleString('en-US')).join(' → ')} (+${rate(l.entriesPerIteration!)}/iteration)`);
    for (const g of l.groups.slice(0, 6)) {
      const where = allocatedWhere(g);
      out.push(`   ${g.cls.padEnd(18)} +${rate(g.perIteration)}/iteration, ${formatBytes(g.bytesPerIteration, true)}/iteration, ${g.counts[g.counts.length - 1]!.toLocaleString('en-US')} alive; ${where}`);
    }
    if (l.groups.length > 6) out.push(`   … and ${l.groups.length - 6} more groups`);
    out.push(`   path: ${l.shortPath.length < l.path.length ? '… → ' : ''}${l.shortPath.join(' → ') || '(not reachable from a GC root)'}`);
  });
  if (a.considered.length) {
    out.push('');
    out.push(a.leaks.length ? 'Considered, not leaks:' : 'Considered, and why none is a leak:');
    for (const c of a.considered.slice(0, 8)) out.push(`   - ${c.what}: ${c.counts.join(' → ')}; ${c.why}`);
  }
  const f = run.figures;
  if (f.length >= 2) {
    const used = f.map((x) => x.heapUsed);
    const per = (used[used.length - 1]! - used[0]!) / Math.max(1, f[f.length - 1]!.k - f[0]!.k);
    out.push('');
    out.push(`Heap used after a full GC: ${formatBytes(used[0]!)} → ${formatBytes(used[used.length - 1]!)} (${formatBytes(per, true)}/iteration, grew in ${grewCount(used)} of ${used.length - 1} iterations); ` +
      `RSS ${formatBytes(f[0]!.rss)} → ${formatBytes(f[f.length - 1]!.rss)}; array buffers ${formatBytes(f[0]!.arrayBuffers)} → ${formatBytes(f[f.length - 1]!.arrayBuffers)}`);
  }
  for (const n of a.notes) out.push(`note: ${n}`);
  return out.join('\n');
}
