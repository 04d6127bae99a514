// Installs the instrumentation in this process: ESM load hooks through node:module register()
// and CommonJS through Module.prototype._compile. Code loaded afterwards is instrumented.
import { createRequire, register } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeScope, originalSource } from '../tools/calls/scope.js';
import { instrumentCached } from './calls-cache.js';
import { instrumentLoaded, stripTypeScript, type HooksData, type LoadResult } from './calls-hooks.js';
import * as nodeModule from 'node:module';
import { ensurePublisher, installedScope as realmScope, noteUninstrumented, setInstalledScope } from './calls-runtime.js';
import { rewriteSources, showSourceOf } from './stand-in.js';
import type { MessagePort } from 'node:worker_threads';

/** Which code `memtrace calls` instruments and how. */
export interface InstrumentScope {
  /** Globs of files to instrument besides the user's own code (e.g. `**\/node_modules/marked/**`). */
  include?: string[];
  /** Globs of files never instrumented. */
  exclude?: string[];
  /** Probe every statement too (line events). */
  lines?: boolean;
  /** Probe every call site too: events for calls into code that is not instrumented (built-ins, node's API, addons, excluded modules). */
  native?: boolean;
  /** Async functions and generators get exit events of their own for throws (default true; needed by traces with trigger 0). */
  exactThrows?: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));
/** memtrace's own files, never instrumented. */
const ownRoot = resolve(here, '..') + '/';

/**
 * Instruments every module loaded from now on in this process (ESM and CommonJS) whose file is
 * in scope: the user's own code by default, node_modules only when included by a glob. Probes
 * stay silent (one typed-array read each) until a trace is on. Once per process. The promise
 * resolves when the RSS publisher thread runs (await it so its start-up is not traced).
 */
export function instrumentCalls(scope: InstrumentScope = {}): Promise<void> {
  // Once per realm, whichever copy of this module asks (the preload's bundle, the library's).
  if (realmScope()) return ensurePublisher();
  const installed: Required<InstrumentScope> = {
    include: scope.include ?? [], exclude: scope.exclude ?? [], lines: scope.lines ?? false, native: scope.native ?? false, exactThrows: scope.exactThrows ?? true,
  };
  setInstalledScope(installed);
  const data: HooksData = {
    include: installed.include,
    exclude: installed.exclude,
    skip: [ownRoot],
    lines: installed.lines,
    native: installed.native,
    exactThrows: installed.exactThrows,
    runtimeUrl: pathToFileURL(resolve(here, 'calls-runtime.js')).href,
    cwd: process.cwd(),
    probe: (process.env.MEMTRACE_CALLS_PROBE as HooksData['probe']) || undefined,
  };
  const inScope = makeScope({ include: data.include, exclude: data.exclude, skip: data.skip, cwd: data.cwd });
  // Where node has in-thread hooks (22.15+), use them: they chain with other in-thread loaders
  // (tsx registers that way), ours running after theirs. Else the off-thread register() hooks.
  const registerHooks = (nodeModule as unknown as { registerHooks?: (hooks: object) => void }).registerHooks;
  if (typeof registerHooks === 'function') {
    registerHooks({
      load(url: string, context: unknown, nextLoad: (url: string, context?: unknown) => LoadResult) {
        return instrumentLoaded(url, nextLoad(url, context), data, inScope, noteUninstrumented);
      },
    });
  } else {
    // node:worker_threads only here: where registerHooks exists the program is spared its module.
    const { MessageChannel } = workerThreads();
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (m: { file: string; reason: string }) => noteUninstrumented(m.file, m.reason));
    port1.unref();
    hooksPort = port1;
    register(pathToFileURL(resolve(here, 'calls-hooks.js')).href, { data: { ...data, port: port2 }, transferList: [port2] });
  }
  const Module = createRequire(import.meta.url)('node:module') as { prototype: { _compile: (...args: unknown[]) => unknown } };
  const compile = Module.prototype._compile;
  // V8 names a frame by its function's name, else by the property of the receiver that holds
  // it: with ours in its place, node 24's nameless _compile read `Module.<anonymous>` in stacks.
  if (!compile.name) Object.defineProperty(compile, 'name', { value: '_compile', configurable: true });
  // Assigned, not declared: nameless as node's own.
  Module.prototype._compile = function (this: unknown, content: unknown, filename: unknown, ...rest: unknown[]) {
    if (typeof content === 'string' && typeof filename === 'string' && inScope(filename) && !filename.endsWith('.json')) {
      // Node 22.6+ runs a CommonJS .ts itself: _compile gets the TypeScript and strips it there
      // (a main loaded through the ESM loader had it stripped by our load hook instead).
      let source: string = content;
      if (rest[0] === 'commonjs-typescript' || rest[0] === 'typescript') {
        const js = stripTypeScript(source);
        if (js !== undefined) { source = js; rest[0] = 'commonjs'; }
      }
      const out = instrumentCached(source, { file: filename, kind: 'cjs', lines: data.lines, native: data.native, exactThrows: data.exactThrows, probe: data.probe });
      if (out.warning) { process.stderr.write(`memtrace: warning: ${out.warning}\n`); noteUninstrumented(filename, out.warning); }
      content = out.code;
    }
    return compile.call(this, content, filename, ...rest);
  };
  showSourceOf(Module.prototype._compile, compile);
  hideProbesFromToString();
  // Started now, parked until a trace is on: its start-up memory is not charged to a traced block.
  return ensurePublisher();
}

/**
 * Function.prototype.toString gives back each instrumented function's own source, so code that
 * serializes functions (`new Function(String(fn))`, workers with `eval: true`, test runners,
 * browser automation) gets what it would untraced. The replacement looks native: same name,
 * length and property attributes, no prototype, and its own source reads `[native code]`.
 */
function hideProbesFromToString(): void {
  rewriteSources(originalSource);
}

let hooksPort: MessagePort | undefined;
const workerThreads = () => createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');

/** Takes in what the off-thread hooks reported and has not been delivered yet (at exit). */
export function drainHookReports(): void {
  if (!hooksPort) return;
  const { receiveMessageOnPort } = workerThreads();
  for (let m = receiveMessageOnPort(hooksPort); m; m = receiveMessageOnPort(hooksPort)) {
    const r = m.message as { file: string; reason: string };
    noteUninstrumented(r.file, r.reason);
  }
}

/** The scope installed by {@link instrumentCalls}, or undefined. */
export function installedScope(): Required<InstrumentScope> | undefined {
  return realmScope<Required<InstrumentScope>>();
}
