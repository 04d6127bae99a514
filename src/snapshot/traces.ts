// Allocation stacks of a snapshot taken with allocation tracking: V8's trace tree (nested
// arrays of id, function info, count, size, children) read into parent links, so that a node's
// trace_node_id gives its stack.
import type { HeapGraph } from './graph.js';

/** One frame of an allocation stack (1-based line and column of the function's position). */
export interface TraceFrame {
  fn: string;
  url: string;
  line: number;
  col: number;
}

/** The allocation stacks of one snapshot, by trace node id. */
export class AllocationTraces {
  private parent = new Map<number, number>();
  private info = new Map<number, number>();

  constructor(private readonly g: HeapGraph) {
    const meta = g.raw.meta;
    const tnf = meta.trace_node_fields ?? [];
    const TN = tnf.length;
    const fId = tnf.indexOf('id'), fInfo = tnf.indexOf('function_info_index'), fKids = tnf.indexOf('children');
    if (!TN || fId < 0) return;
    const todo: Array<[unknown[], number]> = [[g.raw.traceTree, 0]];
    while (todo.length) {
      const [flat, parent] = todo.pop()!;
      for (let i = 0; i + TN <= flat.length; i += TN) {
        const id = flat[i + fId] as number;
        this.parent.set(id, parent);
        this.info.set(id, flat[i + fInfo] as number);
        todo.push([flat[i + fKids] as unknown[], id]);
      }
    }
  }

  /** True when the snapshot carries allocation stacks. */
  get present(): boolean { return this.parent.size > 1; }

  /** The stack of trace node `id`, innermost frame first (V8's "(root)" left out); empty when unknown. */
  stack(id: number): TraceFrame[] {
    const fif = this.g.raw.meta.trace_function_info_fields ?? [];
    const FI = fif.length;
    const oName = fif.indexOf('name'), oScript = fif.indexOf('script_name'), oLine = fif.indexOf('line'), oCol = fif.indexOf('column');
    const infos = this.g.raw.traceFunctionInfos;
    const out: TraceFrame[] = [];
    let t = id;
    for (let guard = 0; t && this.info.has(t) && guard < 1000; guard++) {
      const b = this.info.get(t)! * FI;
      const fn = this.g.strings[infos[b + oName]!] ?? '';
      // V8 writes 1-based lines and 0-based columns here (0 / -1 when unknown).
      if (fn !== '(root)') out.push({ fn, url: this.g.strings[infos[b + oScript]!] ?? '', line: infos[b + oLine]!, col: infos[b + oCol]! + 1 });
      t = this.parent.get(t)!;
    }
    return out;
  }
}
