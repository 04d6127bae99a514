// Instrumented modules on disk, keyed by a hash of everything the output depends on (the source,
// its path, the options, the instrumenter's build), so that a run after the first parses nothing:
// the traced program then never loads the parser, magic-string or the source-map code, and keeps
// no source map in memory (the map is a file beside the cached module, read by node only under
// --enable-source-maps). The instrumenter is required on a miss only.
import { fs } from '../core/node-fs.js';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Hash128 } from './hash.js';
import type { InstrumentOptions, InstrumentResult } from '../tools/calls/instrument.js';
const { closeSync, fstatSync, futimesSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync, existsSync } = fs;

const here = dirname(fileURLToPath(import.meta.url));
const instrumenterPath = resolve(here, '..', 'tools', 'calls', 'instrument.js');
let instrumenter: typeof import('../tools/calls/instrument.js') | undefined;
let salt: string | undefined;
let dir: string | null | undefined;

/** The instrumenter, loaded on first use (require of an ES module: Node 20.19+, 22.12+). */
function instrument(code: string, opts: InstrumentOptions): InstrumentResult {
  if (!instrumenter) {
    const req = createRequire(import.meta.url);
    instrumenter = req(instrumenterPath) as typeof import('../tools/calls/instrument.js');
    // The program's require.cache stays its own.
    delete req.cache[instrumenterPath];
  }
  return instrumenter.instrumentSource(code, opts);
}

/** A directory only this user can write, or undefined when a candidate is someone else's. */
function ownDir(path: string): string | undefined {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    const st = statSync(path);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return undefined;
    return path;
  } catch {
    return undefined;
  }
}

/**
 * The cache directory: MEMTRACE_CACHE_DIR, else `node_modules/.cache/memtrace/calls` of the
 * nearest package above the working directory (where babel, eslint and terser keep theirs), else
 * the user's cache directory ($XDG_CACHE_HOME or ~/.cache)/memtrace/calls. null: no cache.
 */
export function cacheDir(): string | null {
  if (dir !== undefined) return dir;
  const env = process.env.MEMTRACE_CACHE_DIR;
  if (env) return (dir = ownDir(resolve(env)) ?? null);
  for (let d = process.cwd(); ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'node_modules'))) {
      const found = ownDir(join(d, 'node_modules', '.cache', 'memtrace', 'calls'));
      if (found) return (dir = found);
      break;
    }
    if (dirname(d) === d) break;
  }
  const home = process.env.XDG_CACHE_HOME || (process.env.HOME ? join(process.env.HOME, '.cache') : undefined);
  return (dir = (home && ownDir(join(resolve(home), 'memtrace', 'calls'))) || null);
}

/** What changes the output besides the source: the instrumenter's build, and the runtime's its probes call. */
function instrumenterSalt(): string {
  if (salt === undefined) {
    salt = [instrumenterPath, resolve(here, 'calls-runtime.js')].map((p) => {
      try { const st = statSync(p); return `${st.size}:${st.mtimeMs}`; } catch { return ''; }
    }).join(',');
  }
  return salt;
}

/** The text of the source map a module names by a file (not inline), or '' (it is part of the key). */
function externalMap(code: string, file: string): string {
  const m = /\/\/[#@] sourceMappingURL=(?!data:)(\S+)\s*$/.exec(code.slice(-4096));
  if (!m) return '';
  try { return readFileSync(resolve(dirname(file.startsWith('file:') ? fileURLToPath(file) : file), m[1]!), 'utf8'); } catch { return '\0missing'; }
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    try { unlinkSync(tmp); } catch { /* never written */ }
  }
}

const DAY_MS = 24 * 3600 * 1000;
/** Entries unused for this long go at the next sweep. */
const MAX_AGE_MS = 30 * DAY_MS;
/** Above this the least recently used entries go (MEMTRACE_CACHE_MAX_BYTES sets it). */
const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;
// Keys are 32 hex digits (40 before the cache's hash moved off node:crypto: those are swept too).
const ENTRY = /^[0-9a-f]{32}(?:[0-9a-f]{8})?\.(js|map)$|^[0-9a-f]{32}(?:[0-9a-f]{8})?\.(js|map)\.\d+\.[0-9a-z]+\.tmp$/;
let swept = false;

/**
 * Keeps the cache bounded: at most once a day (a `.swept` stamp), on a miss, removes entries not
 * used for 30 days, then the least recently used ones while the directory holds more than the
 * size limit. "Used" is the later of mtime and atime (relatime mounts update atime once a day).
 * Only files named as this cache names them are removed: a file anyone else put there stays.
 */
export function sweepCache(d: string, now = Date.now()): void {
  const stamp = join(d, '.swept');
  try { if (now - statSync(stamp).mtimeMs < DAY_MS) return; } catch { /* never swept */ }
  writeAtomic(stamp, '');
  const limit = Number(process.env.MEMTRACE_CACHE_MAX_BYTES) > 0 ? Number(process.env.MEMTRACE_CACHE_MAX_BYTES) : DEFAULT_MAX_BYTES;
  const entries: Array<{ path: string; used: number; size: number }> = [];
  let names: string[];
  try { names = readdirSync(d); } catch { return; }
  for (const name of names) {
    if (!ENTRY.test(name)) continue;
    const path = join(d, name);
    try {
      const st = statSync(path);
      if (!st.isFile()) continue;
      entries.push({ path, used: Math.max(st.mtimeMs, st.atimeMs), size: st.size });
    } catch { /* gone meanwhile */ }
  }
  entries.sort((a, b) => a.used - b.used);
  let total = entries.reduce((sum, e) => sum + e.size, 0);
  for (const e of entries) {
    const tmp = e.path.endsWith('.tmp');
    if (now - e.used < (tmp ? 3600 * 1000 : MAX_AGE_MS) && total <= limit) continue;
    try { unlinkSync(e.path); total -= e.size; } catch { /* another process took it */ }
  }
}

/** instrumentSource through the cache (`functions` is -1 when the module came from it). */
export function instrumentCached(code: string, opts: InstrumentOptions): InstrumentResult {
  const d = cacheDir();
  if (!d) return instrument(code, opts);
  const key = new Hash128()
    .update(JSON.stringify([instrumenterSalt(), opts.file, opts.kind, !!opts.lines, !!opts.native, opts.exactThrows !== false, opts.runtimeUrl ?? '', opts.probe ?? '']))
    .update(code).update(externalMap(code, opts.file))
    .digest();
  const path = join(d, `${key}.js`);
  try {
    const fd = openSync(path, 'r');
    try {
      // A hit older than a day is marked used (mounts with noatime never update atime).
      const { mtimeMs } = fstatSync(fd);
      if (Date.now() - mtimeMs > DAY_MS) { try { const now = new Date(); futimesSync(fd, now, now); } catch { /* read-only */ } }
      return { code: readFileSync(fd, 'utf8'), functions: -1 };
    } finally { closeSync(fd); }
  } catch { /* a miss */ }
  const mapPath = join(d, `${key}.map`);
  if (!swept) { swept = true; try { sweepCache(d); } catch { /* never disturb the program */ } }
  const out = instrument(code, { ...opts, mapUrl: pathToFileURL(mapPath).href });
  if (out.warning) return out;
  if (out.map !== undefined) writeAtomic(mapPath, out.map);
  writeAtomic(path, out.code);
  return { code: out.code, functions: out.functions };
}
