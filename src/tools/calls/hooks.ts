// ESM load hooks of `memtrace calls` (run by node:module register() on the loaders' thread):
// instrument every ES module in scope. CommonJS goes through the CJS compile path (install.ts).
import { fileURLToPath } from 'node:url';
import { instrumentSource, makeScope } from './instrument.js';

/** What install.ts passes to the hooks. */
export interface HooksData {
  include: string[];
  exclude: string[];
  skip: string[];
  lines: boolean;
  runtimeUrl: string;
  cwd: string;
}

let data: HooksData | undefined;
let inScope: (path: string) => boolean = () => false;

/** Receives the options from register(). */
export function initialize(d: HooksData): void {
  data = d;
  inScope = makeScope({ include: d.include, exclude: d.exclude, skip: d.skip, cwd: d.cwd });
}

type LoadResult = { format?: string | null; source?: string | ArrayBuffer | ArrayBufferView | null; shortCircuit?: boolean };
type NextLoad = (url: string, context?: unknown) => Promise<LoadResult>;

/** Instruments ES modules in scope; everything else passes through untouched. */
export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  if (!data || result.format !== 'module' || !url.startsWith('file:') || result.source == null) return result;
  let path: string;
  try { path = fileURLToPath(url); } catch { return result; }
  if (!inScope(path)) return result;
  const src = typeof result.source === 'string' ? result.source : Buffer.from(result.source as ArrayBuffer).toString('utf8');
  const out = instrumentSource(src, { file: path, kind: 'esm', lines: data.lines, runtimeUrl: data.runtimeUrl });
  if (out.warning) process.stderr.write(`memtrace: warning: ${out.warning}\n`);
  if (process.env.MEMTRACE_CALLS_DUMP) (await import("node:fs")).writeFileSync(process.env.MEMTRACE_CALLS_DUMP + "/" + path.replace(/\//g, "_"), src + "\n=====\n" + out.code);
  return { ...result, source: out.code };
}
