// The bridge from the leak finder to the snapshot engine: the few accessors graph.ts uses.
// Until the engine of src/snapshot/ is in, this reads small snapshots with JSON.parse (as the
// heap tool's exact mode does) and has no dominator tree: retained size is the node's own.
import { readFileSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import type { Edge, TraceFrame } from './graph.js';

/** What graph.ts needs of a loaded snapshot. */
export interface SnapshotSource {
  nodeCount: number;
  hasTraces: boolean;
  type(i: number): string;
  name(i: number): string;
  id(i: number): number;
  selfSize(i: number): number;
  traceNode(i: number): number;
  edgeCount(i: number): number;
  edges(i: number): Edge[];
  edgeAt(edgeIndex: number): Edge;
  forEachEdge(i: number, fn: (edgeIndex: number, type: string, to: number) => void): void;
  retainedSize(i: number): number;
  stack(traceNode: number): TraceFrame[];
}

interface Raw {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]]; trace_function_info_fields?: string[]; trace_node_fields?: string[] } };
  nodes: number[];
  edges: number[];
  strings: string[];
  trace_function_infos?: number[];
  trace_tree?: unknown[];
}

/** Opens the snapshot at `path`. */
export function openSnapshot(path: string): SnapshotSource {
  let raw: Raw;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Raw;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw new UsageError(`cannot read snapshot ${path}: ${(err as Error).message}`);
    throw new UsageError(`${path} is not a heap snapshot (or it is cut short): ${(err as Error).message.split('\n')[0]}`);
  }
  if (!raw || typeof raw !== 'object' || !raw.snapshot?.meta?.node_fields || !Array.isArray(raw.nodes)) {
    throw new UsageError(`${path} is not a heap snapshot (no snapshot.meta)`);
  }
  const meta = raw.snapshot.meta;
  const NF = meta.node_fields.length, EF = meta.edge_fields.length;
  const fType = meta.node_fields.indexOf('type'), fName = meta.node_fields.indexOf('name'), fId = meta.node_fields.indexOf('id');
  const fSize = meta.node_fields.indexOf('self_size'), fEdges = meta.node_fields.indexOf('edge_count'), fTrace = meta.node_fields.indexOf('trace_node_id');
  const nodeTypes = meta.node_types[0], edgeTypes = meta.edge_types[0];
  const eType = meta.edge_fields.indexOf('type'), eName = meta.edge_fields.indexOf('name_or_index'), eTo = meta.edge_fields.indexOf('to_node');
  const nodes = raw.nodes, edges = raw.edges, strings = raw.strings;
  const n = nodes.length / NF;
  const first = new Uint32Array(n + 1);
  for (let i = 0, e = 0; i < n; i++) { first[i] = e; e += nodes[i * NF + fEdges]! * EF; first[i + 1] = e; }
  const edgeAt = (e: number): Edge => {
    const type = edgeTypes[edges[e + eType]!]!;
    const nm = edges[e + eName]!;
    return { type, name: type === 'element' || type === 'hidden' ? String(nm) : strings[nm] ?? '', to: edges[e + eTo]! / NF };
  };
  // The trace tree: parent and function info of each trace node id.
  const fif = meta.trace_function_info_fields ?? [];
  const tnf = meta.trace_node_fields ?? [];
  const infos = raw.trace_function_infos ?? [];
  const FI = fif.length, TN = tnf.length;
  const parentOf = new Map<number, number>();
  const infoOf = new Map<number, number>();
  const walk = (flat: unknown[], parent: number) => {
    for (let i = 0; i < flat.length; i += TN) {
      const id = flat[i + tnf.indexOf('id')] as number;
      parentOf.set(id, parent);
      infoOf.set(id, flat[i + tnf.indexOf('function_info_index')] as number);
      walk(flat[i + tnf.indexOf('children')] as unknown[], id);
    }
  };
  if (TN) walk(raw.trace_tree ?? [], 0);
  return {
    nodeCount: n,
    hasTraces: parentOf.size > 1,
    type: (i) => nodeTypes[nodes[i * NF + fType]!]!,
    name: (i) => strings[nodes[i * NF + fName]!] ?? '',
    id: (i) => nodes[i * NF + fId]!,
    selfSize: (i) => nodes[i * NF + fSize]!,
    traceNode: (i) => (fTrace >= 0 ? nodes[i * NF + fTrace]! : 0),
    edgeCount: (i) => nodes[i * NF + fEdges]!,
    edges: (i) => { const out: Edge[] = []; for (let e = first[i]!; e < first[i + 1]!; e += EF) out.push(edgeAt(e)); return out; },
    edgeAt,
    forEachEdge: (i, fn) => { for (let e = first[i]!; e < first[i + 1]!; e += EF) fn(e, edgeTypes[edges[e + eType]!]!, edges[e + eTo]! / NF); },
    retainedSize: (i) => nodes[i * NF + fSize]!,
    stack: (trace) => {
      const out: TraceFrame[] = [];
      let t = trace;
      while (t && infoOf.has(t)) {
        const b = infoOf.get(t)! * FI;
        const fn = strings[infos[b + fif.indexOf('name')]!] ?? '';
        if (fn !== '(root)') {
          out.push({ fn, url: strings[infos[b + fif.indexOf('script_name')]!] ?? '', line: infos[b + fif.indexOf('line')]! + 1, col: infos[b + fif.indexOf('column')]! + 1 });
        }
        t = parentOf.get(t)!;
      }
      return out;
    },
  };
}
