// The light half of the calls instrumenter, loaded into every traced program: which files are
// in scope, and the inverse of the probes for Function.prototype.toString. The parser and the
// source-map code (instrument.ts) load only when a module must be instrumented afresh.

// The inverse of instrumentSource's edits (instrument.ts), for Function.prototype.toString: every fragment instrumentSource
// inserts, as a pattern (inserted code never holds a newline and always holds `$mt`). Longer
// fragments first where one contains another.
const P_RE = String.raw`\$mtF\[0\]&&\$mtR`;
const ENTER_RE = String.raw`(?:${P_RE}\.c\(\$mtT,\d+\);let \$mt\$s=0,\$mt\$v;try\{|${P_RE}\.[ce]\(\$mtT,\d+\);let \$mt\$v;|${P_RE}\.c\(\$mtT,\d+\);)`;
const FINALLY_RE = String.raw`\}(?:catch\(\$mt\$e\)\{\$mt\$s=-1;throw \$mt\$e\})?finally\{${P_RE}\.r\(\$mtT,\d+,(?:\$mt\$s>=0\?1:0|\$mt\$s)\)\}`;
const INSERTED = new RegExp([
  String.raw`\{${ENTER_RE}return \$mt\$v=\(`, // arrow with an expression body: head
  String.raw`\),\$mt\$s=1,\$mt\$v${FINALLY_RE}\}`, // …its tail (async arrow)
  String.raw`\),${P_RE}\.[xr]\(\$mtT,\d+,1\),\$mt\$v\}`, // …its tail (plain arrow)
  String.raw`;\$mt\$s=1${FINALLY_RE}`, // end of an async function or generator body
  String.raw`;${P_RE}\.[xr]\(\$mtT,\d+,1\)`, // end of a plain function body
  String.raw`;?${ENTER_RE}`, // entry (after a directive: with a semicolon)
  String.raw`\(\$mt\$v=\(`, // return value: head
  String.raw`\),${P_RE}\.[xr]\(\$mtT,\d+,1\),\$mt\$v\)`, // …tail (plain function)
  String.raw`\),\$mt\$s=1,\$mt\$v\)`, // …tail (async function, generator)
  String.raw` \(${P_RE}\.[xr]\(\$mtT,\d+,1\),void 0\)`, // bare return (plain function)
  String.raw` \(\$mt\$s=1,void 0\)`, // bare return (async function, generator)
  String.raw`${P_RE}\.l\(\$mtT,\d+\);`, // line probe
  String.raw`\$mtR\.z\(${P_RE}\.n\(\$mtT,\d+\),`, // call site without arguments (--native): head
  String.raw`\$mtR\.[pa]\(`, // call site (--native): head, and its last argument's
  String.raw`,\$mtT,\d+\)`, // …their tails
].join('|'), 'g');

/** The source text of an instrumented function as it was before instrumentSource (what Function.prototype.toString must give back). */
export function originalSource(text: string): string {
  return text.includes('$mt') ? text.replace(INSERTED, '') : text;
}

/** Turns a glob (`*` within a path segment, `**` across, `?` one character) into a RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') { i++; re += '(?:.*/)?'; } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Which files are instrumented: the user's own code, plus `include`, minus `exclude`. */
export interface ScopeOptions {
  include?: string[];
  exclude?: string[];
  /** Paths never instrumented (memtrace's own files). */
  skip?: string[];
  cwd?: string;
}

/** Builds the predicate that says whether the file at `path` (absolute) is instrumented. */
export function makeScope(opts: ScopeOptions): (path: string) => boolean {
  const cwd = opts.cwd ?? process.cwd();
  const inc = (opts.include ?? []).map(globToRegExp);
  const exc = (opts.exclude ?? []).map(globToRegExp);
  const skip = opts.skip ?? [];
  const matches = (res: RegExp[], path: string) => {
    const rel = path.startsWith(cwd + '/') ? path.slice(cwd.length + 1) : undefined;
    return res.some((r) => r.test(path) || (rel !== undefined && r.test(rel)));
  };
  return (path: string) => {
    if (!path.startsWith('/')) return false;
    if (skip.some((p) => path.startsWith(p))) return false;
    if (matches(exc, path)) return false;
    if (path.includes('/node_modules/')) return matches(inc, path);
    return true;
  };
}
