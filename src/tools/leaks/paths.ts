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
  const t = g.type(n);
  const name = g.name(n);
  if (t === 'closure') return `(closure ${name || 'anonymous'})`;
  if (name === 'system / Context') return 'context';
  if (t === 'string' || t === 'concatenated string' || t === 'sliced string') return `"${name.length > 40 ? name.slice(0, 40) + '…' : name}"`;
  if (t === 'synthetic') return name;
  const entries = entriesOf(g, n);
  if ((name === 'Map' || name === 'Set' || name === 'Array') || entries >= 8) return `${name} (${entries.toLocaleString('en-US')} entries)`;
  return name || t;
}

/** The readable labels of a path, root side first, internal nodes stepped over. */
export function pathLabels(g: HeapGraph, path: PathStep[]): string[] {
  const out: string[] = [];
  for (let s = 0; s < path.length; s++) {
    const { edge, node } = path[s]!;
    if (s === 0 || (g.type(node) === 'synthetic' && s < path.length - 1)) continue;
    if (edge) {
      if (edge.type === 'context') out.push(`${edge.name} (variable)`);
      else if (edge.type === 'property' && edge.name !== '__proto__') out.push(`.${edge.name}`);
      else if (edge.type === 'element' && !isInternal(g, path[s - 1]!.node)) out.push(`[${edge.name}]`);
    }
    if (!isInternal(g, node) || s === path.length - 1) out.push(describeNode(g, node));
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
  for (let s = path.length - 2; s >= 1; s--) {
    const node = path[s]!.node;
    if (isInternal(g, node) || g.type(node) === 'synthetic') continue;
    if (fallback < 0) fallback = node;
    if (g.id(node) <= bornAfter && !g.traceNode(node)) return { holder: node, path };
  }
  return { holder: fallback, path };
}
