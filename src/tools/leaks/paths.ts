// Retainer paths a person reads: `(closure handler) → context → cache (variable) → Map (6,000
// entries) → Buffer`, and the holder of a growing thing (the collection or object it hangs from).
import type { HeapGraph, PathStep } from './graph.js';
import { entriesOf } from './measure.js';

/** V8's internal nodes (backing arrays, hash tables, property arrays): stepped over in paths. */
function isInternal(g: HeapGraph, n: number): boolean {
  const t = g.type(n);
  if (t === 'array' || t === 'hidden' || t === 'object shape' || t === 'code') return true;
  return g.name(n).startsWith('system /') && g.name(n) !== 'system / Context';
}

/** A short description of node `n`: class, closure name, entries of a collection. */
export function describeNode(g: HeapGraph, n: number): string {
  if (g.name(n) === 'system / Context') return 'context';
  const d = g.describe(n);
  const entries = g.name(n) === 'Object' ? entriesOf(g, n) : -1;
  return entries >= 8 ? `${d} (${entries} entries)` : d;
}

/** The readable labels of a path, root side first, V8's internal nodes stepped over. */
export function pathLabels(g: HeapGraph, path: PathStep[]): string[] {
  const out: string[] = [];
  for (let s = 0; s < path.length; s++) {
    const { edge, node, label } = path[s]!;
    const last = s === path.length - 1;
    if (g.type(node) === 'synthetic' && !last) continue;
    const prevInternal = s > 0 && isInternal(g, path[s - 1]!.node);
    if (edge.type === 'context' || edge.type === 'property' || label.endsWith(' (variable)') || label.startsWith('value of key') || (edge.type === 'element' && !prevInternal)) out.push(label);
    if (!isInternal(g, node) || last) out.push(describeNode(g, node));
  }
  // "context → cache (variable)": the context edge is named by the variable already.
  return collapseConsStrings(out.filter((x, i) => !(x === 'context' && out[i - 1] === 'context')));
}

// A string built by `+=` is a tree of concatenated strings: a path into it steps through one
// per concatenation. Keep the outermost and the innermost of a run, and say how many are between.
function collapseConsStrings(labels: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < labels.length;) {
    let j = i;
    while (j < labels.length && labels[j]!.startsWith('(concatenated string)')) j++;
    if (j - i >= 3) {
      out.push(labels[i]!, `… ${j - i - 2} more concatenated strings …`, labels[j - 1]!);
      i = j;
    } else out.push(labels[i++]!);
  }
  return out;
}

/**
 * The holder of node `n`: the nearest JS object above it on its retainer path that was already
 * alive at the baseline (id ≤ `bornAfter`; V8's internal tables and arrays stepped over): the old
 * thing new things hang from. Also the path from the root to `n`.
 */
export function holderOf(g: HeapGraph, n: number, bornAfter: number): { holder: number; path: PathStep[] } {
  const path = g.retainerPath(n);
  let fallback = -1;
  for (let s = path.length - 2; s >= 0; s--) {
    const node = path[s]!.node;
    if (isInternal(g, node) || g.type(node) === 'synthetic') continue;
    if (fallback < 0) fallback = node;
    if (g.id(node) <= bornAfter && !g.traceNode(node)) return { holder: node, path };
  }
  return { holder: fallback, path };
}
