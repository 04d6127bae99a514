// Names for return addresses: native frames from the ELF symbol tables of the mapped files
// (/proc/PID/maps as the interposer captured it), JIT frames from node's --perf-basic-prof
// map (/tmp/perf-PID.map). C++ names are demangled with c++filt when binutils is installed.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { readAt } from '../../core/fsutil.js';
import { SourceMaps, urlToPath } from '../../core/sourcemap.js';

/** One line of /proc/PID/maps that maps a file. */
export interface Mapping { start: number; end: number; offset: number; path: string; exec: boolean }

/** Parses /proc/PID/maps text, keeping mappings of files and named regions. */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s+(.*)$/.exec(line);
    if (!m || !m[5]) continue;
    out.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), offset: parseInt(m[4]!, 16), path: m[5], exec: m[3]!.includes('x') });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** The files mapped executable (whose symbols name native frames), each once. */
export function executableFiles(maps: Mapping[]): string[] {
  return [...new Set(maps.filter((m) => m.exec && m.path.startsWith('/')).map((m) => m.path))];
}

/**
 * The function symbols of an ELF file, sorted by address, in typed arrays; a name is decoded from
 * the string table only when a frame lands in it (node's binary has ~100 000 function symbols:
 * decoding them all took ~140 ms of a trace's analysis).
 */
interface ElfSyms {
  loads: Array<{ offset: number; vaddr: number; filesz: number }>;
  addr: Float64Array;
  size: Float64Array;
  /** The symbol's name: its string table and the offset in it. */
  strtab: Buffer[];
  table: Uint16Array;
  nameOff: Uint32Array;
}

const elfCache = new Map<string, ElfSyms | null>();

/** Reads an ELF file's symbols ahead of the frames that will need them (kept for this process). */
export function preloadElf(path: string): void {
  loadElf(path);
}

/** Reads the function symbols (.symtab and .dynsym) and PT_LOAD segments of an ELF64 file. */
function loadElf(path: string): ElfSyms | null {
  if (elfCache.has(path)) return elfCache.get(path)!;
  let result: ElfSyms | null = null;
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const eh = readAt(fd, 0, 64);
    if (eh.length === 64 && eh.readUInt32BE(0) === 0x7f454c46 && eh[4] === 2 && eh[5] === 1) {
      const phoff = Number(eh.readBigUInt64LE(32));
      const shoff = Number(eh.readBigUInt64LE(40));
      const phentsize = eh.readUInt16LE(54), phnum = eh.readUInt16LE(56);
      const shentsize = eh.readUInt16LE(58), shnum = eh.readUInt16LE(60);
      const loads: ElfSyms['loads'] = [];
      const ph = readAt(fd, phoff, phentsize * phnum);
      for (let i = 0; i < phnum; i++) {
        const o = i * phentsize;
        if (ph.readUInt32LE(o) !== 1) continue; // PT_LOAD
        loads.push({ offset: Number(ph.readBigUInt64LE(o + 8)), vaddr: Number(ph.readBigUInt64LE(o + 16)), filesz: Number(ph.readBigUInt64LE(o + 32)) });
      }
      const sh = readAt(fd, shoff, shentsize * shnum);
      const sec = (i: number) => {
        const o = i * shentsize;
        return { type: sh.readUInt32LE(o + 4), offset: Number(sh.readBigUInt64LE(o + 24)), size: Number(sh.readBigUInt64LE(o + 32)), link: sh.readUInt32LE(o + 40), entsize: Number(sh.readBigUInt64LE(o + 56)) };
      };
      const found: Array<{ data: Buffer; ent: number; strtab: Buffer }> = [];
      let count = 0;
      for (let i = 0; i < shnum && sh.length >= (i + 1) * shentsize; i++) {
        const s = sec(i);
        if (s.type !== 2 && s.type !== 11) continue; // SHT_SYMTAB, SHT_DYNSYM
        const strs = sec(s.link);
        const ent = s.entsize || 24;
        const data = readAt(fd, s.offset, s.size);
        found.push({ data, ent, strtab: readAt(fd, strs.offset, strs.size) });
        count += Math.floor(data.length / ent);
      }
      // Function symbols as (address, size, table, name offset), then sorted by address.
      const addr = new Float64Array(count), size = new Float64Array(count), table = new Uint16Array(count), nameOff = new Uint32Array(count);
      let n = 0, maxAddr = 0;
      found.forEach(({ data, ent }, t) => {
        const v = new DataView(data.buffer, data.byteOffset, data.length);
        for (let o = 0; o + ent <= data.length; o += ent) {
          if ((data[o + 4]! & 0xf) !== 2) continue; // STT_FUNC
          const value = v.getUint32(o + 12, true) * 2 ** 32 + v.getUint32(o + 8, true);
          if (value === 0) continue;
          addr[n] = value;
          if (value > maxAddr) maxAddr = value;
          size[n] = v.getUint32(o + 20, true) * 2 ** 32 + v.getUint32(o + 16, true);
          table[n] = t;
          nameOff[n] = v.getUint32(o, true);
          n++;
        }
      });
      const order = sortedOrder(addr, n, maxAddr);
      const sorted = <T extends Float64Array | Uint16Array | Uint32Array>(src: T): T => {
        const out = src.slice(0, n) as T;
        for (let i = 0; i < n; i++) out[i] = src[order[i]!]!;
        return out;
      };
      result = { loads, addr: sorted(addr), size: sorted(size), table: sorted(table), nameOff: sorted(nameOff), strtab: found.map((f) => f.strtab) };
    }
  } catch {
    result = null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  elfCache.set(path, result);
  return result;
}

/**
 * The indices of addr[0..n) in ascending order of address. Where address and index fit in a
 * double's 53 bits together (ELF virtual addresses are small), each is packed into one key for
 * the typed array's own numeric sort: ~2x faster than a comparator over node's 150 000 symbols.
 */
function sortedOrder(addr: Float64Array, n: number, maxAddr: number): Uint32Array {
  const order = new Uint32Array(n);
  const shift = 2 ** Math.max(1, Math.ceil(Math.log2(n + 1)));
  if (maxAddr * shift + shift < 2 ** 53) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = addr[i]! * shift + i;
    keys.sort();
    for (let i = 0; i < n; i++) order[i] = keys[i]! % shift;
    return order;
  }
  for (let i = 0; i < n; i++) order[i] = i;
  return order.sort((a, b) => addr[a]! - addr[b]! || a - b);
}

function symbolName(elf: ElfSyms, i: number): string {
  const strtab = elf.strtab[elf.table[i]!]!;
  const from = elf.nameOff[i]!;
  const end = strtab.indexOf(0, from);
  return strtab.toString('utf8', from, end < 0 ? strtab.length : end);
}

/** The index of the last of `n` ascending keys at or below `x`, or -1. */
function lastAtOrBelow(n: number, keyAt: (i: number) => number, x: number): number {
  let lo = 0, hi = n - 1, best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (keyAt(mid) <= x) { best = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return best;
}

/** A JIT code range from a perf map; `seq` is its line's order in the file (later code wins). */
interface PerfEntry { addr: number; size: number; name: string; seq: number }

/** Reads node's /tmp/perf-PID.map (start size name, hex), sorted by address. */
export function readPerfMap(path: string): PerfEntry[] {
  if (!existsSync(path)) return [];
  const out: PerfEntry[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) (.*)$/.exec(line);
    if (m) out.push({ addr: parseInt(m[1]!, 16), size: parseInt(m[2]!, 16), name: m[3]!, seq: out.length });
  }
  // later entries win for reused code space: stable sort keeps file order among equal starts
  return out.sort((a, b) => a.addr - b.addr);
}

/**
 * Makes a perf-map name readable: "JS:*parseRecords file:///app/src/parse.js:10:3" → "parseRecords (src/parse.js:10)";
 * with `sourceMaps`, a position in a file with a source map (tsc, bundlers) is the original's: "parseRecords (src/parse.ts:8)".
 */
export function jsFrameName(raw: string, cwd = process.cwd(), sourceMaps?: SourceMaps): string {
  // CPython ≥ 3.12 with -X perf / PYTHONPERFSUPPORT=1: "py::make_blocks:/app/job.py"
  const py = /^py::(.*?):(\/.*)$/.exec(raw);
  if (py) {
    const r = relative(cwd, py[2]!);
    return `${py[1] || '(module)'} (${r.startsWith('../../') ? py[2] : r})`;
  }
  const m = /^(\w+):([*~^+']?)(.*)$/.exec(raw);
  if (!m) return raw;
  const kind = m[1]!;
  const rest = m[3]!.trim();
  if (kind === 'Builtin' || kind === 'BytecodeHandler' || kind === 'Stub' || kind === 'RegExp') return `${rest} (${kind.toLowerCase()})`;
  const loc = /^(.*?)\s*((?:file:\/\/|\/|node:)\S*?)(?::(\d+))?(?::(\d+))?$/.exec(rest);
  if (!loc) return rest || '(anonymous)';
  const fn = loc[1] || '(anonymous)';
  let file = loc[2]!;
  let line = loc[3];
  if (file.startsWith('file://')) file = urlToPath(file) ?? file.slice(7);
  if (sourceMaps && line && file.startsWith('/')) {
    const orig = sourceMaps.original(file, Number(line), Number(loc[4] ?? 1));
    if (orig) { file = orig.file; line = String(orig.line); }
  }
  if (file.startsWith('/')) { const r = relative(cwd, file); if (!r.startsWith('../../')) file = r; }
  return `${fn} (${file}${line ? `:${line}` : ''})`;
}

/** Cuts the argument list off a demangled C++ name: "v8::Foo::Bar(int, char*) const" → "v8::Foo::Bar". */
export function shortCppName(name: string): string {
  let s = name.replace(/ const$/, '');
  if (!s.endsWith(')')) return name;
  let depth = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    if (s[i] === ')') depth++;
    else if (s[i] === '(' && --depth === 0) { s = s.slice(0, i); break; }
  }
  return s || name;
}

let haveCxxfilt: boolean | undefined;
function demangle(names: string[]): string[] {
  if (names.length === 0) return names;
  if (haveCxxfilt === false) return names;
  // One spawn (no `--version` probe first): a process of a few hundred MB takes ~10 ms to spawn.
  const r = spawnSync('c++filt', [], { input: names.join('\n'), encoding: 'utf8', maxBuffer: 256 << 20 });
  haveCxxfilt = !r.error;
  const out = r.status === 0 ? r.stdout.split('\n') : [];
  return names.map((n, i) => (out[i] ? shortCppName(out[i]!) : n));
}

/**
 * The code range holding `pc`. V8 reuses code space after code dies and the basic perf map
 * logs no deaths or moves, so ranges overlap: of those holding `pc`, the one logged last wins
 * (a stale entry that starts higher would otherwise shadow newer code that starts lower).
 */
function jitAt(perf: PerfEntry[], pc: number, maxSize: number): PerfEntry | undefined {
  let i = lastAtOrBelow(perf.length, (k) => perf[k]!.addr, pc);
  let best: PerfEntry | undefined;
  for (; i >= 0 && perf[i]!.addr > pc - maxSize; i--) {
    const e = perf[i]!;
    if (pc < e.addr + e.size && (!best || e.seq > best.seq)) best = e;
  }
  return best;
}

/** Resolves return addresses of one process image to frame names (ip → name; hex address when unknown). */
export function symbolize(ips: Iterable<number>, maps: Mapping[], perfMap: PerfEntry[], cwd = process.cwd(), sourceMaps?: SourceMaps): Map<number, string> {
  const out = new Map<number, string>();
  const maxJit = Math.min(1 << 20, perfMap.reduce((m, e) => Math.max(m, e.size), 0) + 1);
  const mangled: Array<{ ip: number; name: string }> = [];
  for (const ip of ips) {
    if (out.has(ip)) continue;
    const pc = ip - 1; // a return address points after the call
    let name: string | undefined;
    const jit = jitAt(perfMap, pc, maxJit);
    if (jit) name = jsFrameName(jit.name, cwd, sourceMaps);
    if (!name) {
      const m = maps[lastAtOrBelow(maps.length, (k) => maps[k]!.start, pc)];
      if (m && pc < m.end && m.path.startsWith('/')) {
        const elf = loadElf(m.path);
        const fileOff = pc - m.start + m.offset;
        const seg = elf?.loads.find((l) => fileOff >= l.offset && fileOff < l.offset + l.filesz);
        const base = m.path.slice(m.path.lastIndexOf('/') + 1);
        if (elf && seg) {
          const vaddr = fileOff - seg.offset + seg.vaddr;
          const k = lastAtOrBelow(elf.addr.length, (j) => elf.addr[j]!, vaddr);
          const at = k >= 0 ? elf.addr[k]! : 0, size = k >= 0 ? elf.size[k]! : 0;
          if (k >= 0 && (vaddr < at + size || (size === 0 && vaddr - at < 4096))) {
            name = symbolName(elf, k);
            if (name.startsWith('_Z')) mangled.push({ ip, name });
            if (!/^(node|python[\d.]*)$/.test(base)) name = `${name} (${base})`;
          } else name = `(${base})`;
        } else if (m) name = `${base}+0x${fileOff.toString(16)}`;
      }
    }
    out.set(ip, name ?? (perfMap.length ? '(JIT code)' : `0x${ip.toString(16)}`));
  }
  const demangled = demangle(mangled.map((m) => m.name));
  mangled.forEach((m, i) => {
    const cur = out.get(m.ip)!;
    out.set(m.ip, cur.replace(m.name, demangled[i]!));
  });
  return out;
}
