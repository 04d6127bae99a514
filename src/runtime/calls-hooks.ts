// ESM load hooks of `memtrace calls` (run by node:module register() on the loaders' thread):
// instrument every ES module in scope. CommonJS goes through the CJS compile path (install.ts).
import { fileURLToPath } from 'node:url';
import { instrumentSource, makeScope } from '../tools/calls/instrument.js';

/** What install.ts passes to the hooks. */
export interface HooksData {
  include: string[];
  exclude: string[];
  skip: string[];
  lines: boolean;
  runtimeUrl: string;
  /** The probe shape (see InstrumentOptions.probe); MEMTRACE_CALLS_PROBE sets it, for the bench. */
  probe?: 'lazy' | 'finally' | 'return' | 'enter' | 'off';
  cwd: string;
}

let data: HooksData | undefined;
let inScope: (path: string) => boolean = () => false;

/** Receives the options from register(). */
export function initialize(d: HooksData): void {
  data = d;
  inScope = makeScope({ include: d.include, exclude: d.exclude, skip: d.skip, cwd: d.cwd });
}

/** What a load hook returns. */
export type LoadResult = { format?: string | null; source?: string | ArrayBuffer | ArrayBufferView | null; shortCircuit?: boolean };
type NextLoad = (url: string, context?: unknown) => Promise<LoadResult>;

/** Instruments the result of a load when it is an ES module in scope (shared by both kinds of hooks). */
export function instrumentLoaded(url: string, result: LoadResult, d: HooksData | undefined, scope: (path: string) => boolean): LoadResult {
  if (!d || result.format !== 'module' || !url.startsWith('file:') || result.source == null) return result;
  let path: string;
  try { path = fileURLToPath(url); } catch { return result; }
  if (!scope(path)) return result;
  const src = typeof result.source === 'string' ? result.source : Buffer.from(result.source as ArrayBuffer).toString('utf8');
  const out = instrumentSource(src, { file: path, kind: 'esm', lines: d.lines, runtimeUrl: d.runtimeUrl, probe: d.probe });
  if (out.warning) process.stderr.write(`memtrace: warning: ${out.warning}\n`);
  return { ...result, source: out.code };
}

/** Instruments ES modules in scope; everything else passes through untouched. */
export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<LoadResult> {
  return instrumentLoaded(url, await nextLoad(url, context), data, inScope);
}
