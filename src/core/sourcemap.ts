// Maps generated positions (compiled .js) back to sources (.ts) through source maps, with a
// note when a map cannot be read: positions then stay in the generated file.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LEAST_UPPER_BOUND, TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';

/** An original position: file path, 1-based line and column, and the original name when known. */
export interface OriginalPosition {
  file: string;
  line: number;
  col: number;
  name?: string;
}

/** Turns a script URL or path as V8 reports it into a file path, or undefined for non-files. */
export function urlToPath(url: string): string | undefined {
  if (url.startsWith('file://')) {
    try { return fileURLToPath(url); } catch { return undefined; }
  }
  if (url.startsWith('/')) return url;
  return undefined;
}

/** Resolves positions through the source maps of the files they are in (each map read once). */
export class SourceMaps {
  private maps = new Map<string, TraceMap | null>();
  /** One line per map that could not be read. */
  readonly notes: string[] = [];
  private inline = new Map<string, string>();

  /** `inline`: source maps (data: URLs) by script URL, for code transformed in memory. */
  constructor(inline: Record<string, string> = {}) {
    for (const [url, ref] of Object.entries(inline)) {
      const path = urlToPath(url);
      if (path) this.inline.set(path, ref);
    }
  }

  /** True when V8 gave `path` an inline map (code compiled in memory from the file on disk). */
  hasInline(path: string): boolean {
    return this.inline.has(path);
  }

  /** The map of `path`, or null when it has none or it cannot be read (a note says why). */
  private mapFor(path: string): TraceMap | null {
    if (this.maps.has(path)) return this.maps.get(path)!;
    let map: TraceMap | null = null;
    let text: string | undefined;
    if (!this.inline.has(path)) {
      try { text = readFileSync(path, 'utf8'); } catch { text = undefined; }
    }
    const inline = this.inline.get(path);
    const m = inline ? [inline, inline] : text ? /\/\/[#@] sourceMappingURL=([^\s'"]+)\s*$/.exec(text.slice(-4096)) : null;
    if (m) {
      const ref = m[1]!;
      let where = ref;
      try {
        let json: string;
        if (ref.startsWith('data:')) {
          where = 'inline map';
          const comma = ref.indexOf(',');
          const meta = ref.slice(0, comma);
          const body = ref.slice(comma + 1);
          json = meta.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
        } else {
          where = ref.startsWith('file://') ? fileURLToPath(ref) : resolve(dirname(path), decodeURIComponent(ref));
          json = readFileSync(where, 'utf8');
        }
        map = new TraceMap(json, ref.startsWith('data:') ? pathToFileURL(path).href : pathToFileURL(where).href);
      } catch (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message.split('\n')[0];
        this.notes.push(`cannot read the source map of ${path} (${where}: ${why}); its positions are in the generated file`);
        map = null;
      }
    }
    this.maps.set(path, map);
    return map;
  }

  /** The original position of 1-based `line`:`col` in `path`, or undefined when there is no usable mapping. */
  original(path: string, line: number, col: number): OriginalPosition | undefined {
    const map = this.mapFor(path);
    if (!map || line < 1) return undefined;
    let pos = originalPositionFor(map, { line, column: Math.max(0, col - 1) });
    if (pos.source === null) pos = originalPositionFor(map, { line, column: Math.max(0, col - 1), bias: LEAST_UPPER_BOUND });
    if (pos.source === null || pos.line === null) return undefined;
    const file = urlToPath(pos.source) ?? pos.source;
    return { file, line: pos.line, col: (pos.column ?? 0) + 1, name: pos.name ?? undefined };
  }
}

const sources = new Map<string, string | null>();

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Where a function named `fnName` (V8's name: "big", "Cache.get", "get size") is declared in
 * the file at `path` (1-based line and column), the first declaration when several share the
 * name; undefined when none is found. For frames whose script V8 had already collected.
 */
export function functionLine(path: string, fnName: string): { line: number; col: number } | undefined {
  let text = sources.get(path);
  if (text === undefined) {
    try { text = readFileSync(path, 'utf8'); } catch { text = null; }
    sources.set(path, text);
  }
  if (!text) return undefined;
  const name = escapeRe(fnName.split(/[.\s]/).pop() ?? fnName);
  if (!name) return undefined;
  const patterns = [
    new RegExp(`\\bfunction\\s*\\*?\\s*${name}\\s*[<(]`),
    new RegExp(`\\b${name}\\s*[=:]\\s*(?:async\\s+)?(?:function\\b|\\(|[A-Za-z_$][\\w$]*\\s*=>)`),
    new RegExp(`^[ \\t]*(?:(?:public|private|protected|static|async|get|set|override|readonly)\\s+)*\\*?${name}\\s*[<(]`, 'm'),
  ];
  for (const re of patterns) {
    const m = re.exec(text);
    if (!m) continue;
    const at = m.index + m[0].search(new RegExp(name));
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    return { line, col: at - before.lastIndexOf('\n') };
  }
  return undefined;
}
