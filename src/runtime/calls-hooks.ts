// ESM load hooks of `memtrace calls` (run by node:module register() on the loaders' thread):
// instrument every ES module in scope. CommonJS goes through the CJS compile path (install.ts).
import * as nodeModule from 'node:module';
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { makeScope } from '../tools/calls/scope.js';
import { instrumentCached } from './calls-cache.js';

/** What install.ts passes to the hooks. */
export interface HooksData {
  include: string[];
  exclude: string[];
  skip: string[];
  lines: boolean;
  /** Probe call sites too (`--native`). */
  native?: boolean;
  /** Async functions and generators in try/finally (InstrumentOptions.exactThrows). */
  exactThrows?: boolean;
  runtimeUrl: string;
  /** The probe shape (see InstrumentOptions.probe); MEMTRACE_CALLS_PROBE sets it, for the bench. */
  probe?: 'lazy' | 'finally' | 'return' | 'enter' | 'off';
  cwd: string;
  /** Off-thread hooks: where to report files left uninstrumented ({file, reason} messages). */
  port?: MessagePort;
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

// Node's own TypeScript (22.6+: `node app.ts`) strips types after the load hooks: a hook sees
// TypeScript. Stripping it here the same way (whitespace in place of types: lines and columns
// stay) gives the instrumenter JavaScript.
const stripTypes = (nodeModule as unknown as { stripTypeScriptTypes?: (code: string, options?: { mode?: string }) => string }).stripTypeScriptTypes;
const TS_FORMATS: Record<string, string> = { 'module-typescript': 'module', 'commonjs-typescript': 'commonjs' };

/**
 * Runs `fn` without the ExperimentalWarning node emits the first time stripTypeScriptTypes is
 * called: the program's stderr is its own (running a .ts file itself prints none).
 */
function quietly<T>(fn: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning?.message;
    if (/stripTypeScriptTypes/.test(String(text))) return;
    return (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try { return fn(); } finally { process.emitWarning = emit; }
}

/** The JavaScript of TypeScript `source` as node strips it (positions kept); undefined when this node cannot, or the source does not parse. */
export function stripTypeScript(source: string): string | undefined {
  if (!stripTypes) return undefined;
  try { return quietly(() => stripTypes(source, { mode: 'strip' })); } catch { return undefined; }
}

/** Instruments the result of a load when it is an ES module in scope (shared by both kinds of hooks). */
export function instrumentLoaded(url: string, result: LoadResult, d: HooksData | undefined, scope: (path: string) => boolean,
  skipped: (file: string, reason: string) => void): LoadResult {
  if (!d || !url.startsWith('file:') || result.source == null) return result;
  const js = TS_FORMATS[result.format ?? ''];
  if (result.format !== 'module' && !(js && stripTypes)) return result;
  let path: string;
  try { path = fileURLToPath(url); } catch { return result; }
  if (!scope(path)) return result;
  let src = typeof result.source === 'string' ? result.source : Buffer.from(result.source as ArrayBuffer).toString('utf8');
  if (js) {
    const stripped = stripTypeScript(src);
    if (stripped === undefined) return result; // node reports it
    src = stripped;
    // CommonJS goes on to Module.prototype._compile, which instruments it (install.ts).
    if (js === 'commonjs') return { ...result, format: js, source: src };
    result = { ...result, format: js };
  }
  const out = instrumentCached(src, { file: path, kind: 'esm', lines: d.lines, native: d.native, exactThrows: d.exactThrows, runtimeUrl: d.runtimeUrl, probe: d.probe });
  if (out.warning) { process.stderr.write(`memtrace: warning: ${out.warning}\n`); skipped(path, out.warning); }
  return { ...result, source: out.code };
}

/** Instruments ES modules in scope; everything else passes through untouched. */
export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<LoadResult> {
  return instrumentLoaded(url, await nextLoad(url, context), data, inScope, (file, reason) => data?.port?.postMessage({ file, reason }));
}
