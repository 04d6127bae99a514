// Source instrumentation for `memtrace calls`: parses a module with acorn and inserts probes with
// magic-string, on the lines they belong to (no new line before the original code ends), so
// line numbers in stack traces stay those of the source; a source map is chained to the input's.
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, type Node } from 'acorn';
import MagicString from 'magic-string';
import remapping from '@jridgewell/remapping';
import { TraceMap, originalPositionFor, type SourceMapInput } from '@jridgewell/trace-mapping';

export { globToRegExp, makeScope, originalSource, type ScopeOptions } from './scope.js';

/** How a module is loaded: an ES module, or CommonJS through the CJS compile path. */
export type ModuleKind = 'esm' | 'cjs';

/** Options of {@link instrumentSource}. */
export interface InstrumentOptions {
  /** Absolute path (or file URL) of the module, for the events and the source map. */
  file: string;
  kind: ModuleKind;
  /** Also probe every statement (`--lines`). */
  lines?: boolean;
  /** For ESM: the URL of the runtime module the probes import. */
  runtimeUrl?: string;
  /**
   * The probe shape, for measuring alternatives: `lazy` (the default: `return` for plain
   * functions, whose throws the runtime infers from the stack, `finally` for async functions and
   * generators), `finally` (every function: entry probe, body in try/finally), `return` (exit
   * probes at each return and at the end, no try: throws unseen), `enter` (entry probe only),
   * `off` (no probe: the parse and table only).
   */
  probe?: 'lazy' | 'finally' | 'return' | 'enter' | 'off';
  /**
   * In `lazy` mode, async functions and generators keep their body in try/finally, so that a
   * throw (and a generator's early `.return()`) has an exit event of its own, as `--trigger 0`
   * promises (default true). False: their exits are probed at each return, as a plain
   * function's; a throw's memory goes to the next event, as a plain function's does under a
   * trigger. A try/finally around a generator's yields cost yaml's parser ~8% of its time.
   */
  exactThrows?: boolean;
  /** Also probe every call site (`--native`): events for calls into code that is not instrumented. */
  native?: boolean;
  /** Where the source map will be (its URL goes in the code, the map in `map`); default: inline. */
  mapUrl?: string;
}

/** The instrumented code, or the reason it was left as it was. */
export interface InstrumentResult {
  code: string;
  /** Functions instrumented. */
  functions: number;
  /** Set when the source was left untouched (it did not parse). */
  warning?: string;
  /** The source map (JSON), when `mapUrl` was given and the code changed. */
  map?: string;
}


type AnyNode = Node & Record<string, any>;

interface FnInfo { name: string; line: number; col: number }

const isFn = (n: AnyNode) =>
  n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression';

/**
 * Operators that call no user code on primitives or objects without valueOf/toString of their
 * own, and allocate at most a few bytes: a number, and for `+` of strings a cons string (V8 links
 * the two, 32 bytes) or a flat one shorter than 13 characters.
 */
const LEAF_BINARY = new Set(['===', '!==', '==', '!=', '<', '<=', '>', '>=', '&', '|', '^', '<<', '>>', '>>>', 'in', 'instanceof', '+', '-', '*', '/', '%']);
const LEAF_UNARY = new Set(['!', 'typeof', 'void', '-', '~']);

/**
 * A leaf: a plain function whose body only reads (variables, properties, literals that are not
 * objects), computes and tests what it read, with no call, no `new`, no literal that allocates
 * and no write: it cannot move memory by more than a few bytes, and its probes would only make
 * it too big for V8 to inline (yaml's `isScalar(node)`, its lexer's `charAt(n)` and friends).
 */
function isLeaf(fn: AnyNode): boolean {
  if (fn.async || fn.generator || !fn.params.every((p: AnyNode) => p.type === 'Identifier')) return false;
  const ok = (n: AnyNode | null | undefined): boolean => {
    if (!n) return true;
    switch (n.type) {
      case 'Identifier': case 'ThisExpression': case 'BreakStatement': case 'EmptyStatement': return true;
      case 'Literal': return !n.regex && typeof n.value !== 'bigint';
      case 'MemberExpression': return ok(n.object) && (!n.computed || ok(n.property));
      case 'ChainExpression': case 'ParenthesizedExpression': return ok(n.expression);
      case 'UnaryExpression': return LEAF_UNARY.has(n.operator) && ok(n.argument);
      case 'BinaryExpression': return LEAF_BINARY.has(n.operator) && ok(n.left) && ok(n.right);
      case 'LogicalExpression': return ok(n.left) && ok(n.right);
      case 'ConditionalExpression': case 'IfStatement': return ok(n.test) && ok(n.consequent) && ok(n.alternate);
      case 'ReturnStatement': return ok(n.argument);
      case 'BlockStatement': return n.body.every(ok);
      case 'SwitchStatement': return ok(n.discriminant) && n.cases.every((c: AnyNode) => ok(c.test) && c.consequent.every(ok));
      default: return false;
    }
  };
  return ok(fn.body);
}

function keyName(key: AnyNode, computed: boolean): string {
  if (!computed && key.type === 'Identifier') return key.name;
  if (key.type === 'Literal') return String(key.value);
  if (key.type === 'PrivateIdentifier') return '#' + key.name;
  return '[computed]';
}

function memberName(n: AnyNode): string {
  if (n.type === 'Identifier') return n.name;
  if (n.type === 'ThisExpression') return 'this';
  if (n.type === 'MemberExpression') return `${memberName(n.object)}.${n.computed ? '[computed]' : keyName(n.property, false)}`;
  return '?';
}

const unwrap = (n: AnyNode): AnyNode =>
  n.type === 'ParenthesizedExpression' ? unwrap(n.expression)
    : n.type === 'SequenceExpression' ? unwrap(n.expressions[n.expressions.length - 1]) : n;

/** The callee as the source spells it (`JSON.parse`, `fs.readFileSync`, `this.#cache.get`). */
function calleeName(c: AnyNode): string {
  const n = unwrap(c);
  switch (n.type) {
    case 'Identifier': return n.name;
    case 'Super': return 'super';
    case 'ThisExpression': return 'this';
    case 'MemberExpression': return `${calleeName(n.object)}${n.computed ? (n.property.type === 'Literal' ? `[${JSON.stringify(n.property.value)}]` : '[…]') : '.' + keyName(n.property, false)}`;
    case 'CallExpression': return `${calleeName(n.callee)}()`;
    case 'NewExpression': return `new ${calleeName(n.callee)}()`;
    case 'ChainExpression': return calleeName(n.expression);
    case 'FunctionExpression': case 'ArrowFunctionExpression': return '(function)';
    case 'ArrayExpression': return '[…]';
    case 'ObjectExpression': return '{…}';
    case 'Literal': return String(n.raw).length <= 20 ? String(n.raw) : typeof n.value === 'string' ? '"…"' : '(literal)';
    default: return '(expression)';
  }
}

/** Module-plumbing calls that CommonJS export detection and bundlers read by their shape: never wrapped. */
const PLUMBING = /^(require|Object\.defineProperty|__exportStar|__export|\w+\.__exportStar|__reExport|__setModuleDefault)$/;

/** Reads the source map a module names (inline data: URL or a file beside it), or undefined. */
function inputMap(code: string, file: string): { map: SourceMapInput; commentStart: number; mapUrl: string } | undefined {
  const re = /\/\/[#@] sourceMappingURL=(\S+)\s*$/;
  const tail = code.slice(Math.max(0, code.length - 4096 * 1024));
  const m = re.exec(tail);
  if (!m) return undefined;
  const commentStart = code.length - tail.length + m.index;
  const url = m[1]!;
  try {
    if (url.startsWith('data:')) {
      const comma = url.indexOf(',');
      const meta = url.slice(5, comma);
      const data = url.slice(comma + 1);
      const text = meta.endsWith(';base64') ? Buffer.from(data, 'base64').toString('utf8') : decodeURIComponent(data);
      return { map: JSON.parse(text), commentStart, mapUrl: file };
    }
    const path = file.startsWith('file:') ? fileURLToPath(file) : file;
    const mapPath = resolvePath(dirname(path), url);
    return { map: JSON.parse(readFileSync(mapPath, 'utf8')), commentStart, mapUrl: mapPath };
  } catch {
    return undefined;
  }
}

/**
 * Instruments every function of a module: a probe at entry, the body in try/finally with a
 * probe at exit that tells return from throw, and with `lines` a probe before each statement.
 * A probe is `$mtF[0]&&…`: one typed-array read and test unless memory moved.
 * A module that does not parse comes back untouched, with a warning.
 */
export function instrumentSource(code: string, opts: InstrumentOptions): InstrumentResult {
  let ast: AnyNode;
  const parseOpts = {
    ecmaVersion: 'latest' as const,
    sourceType: opts.kind === 'esm' ? ('module' as const) : ('script' as const),
    allowHashBang: true,
    allowReturnOutsideFunction: opts.kind === 'cjs',
    allowAwaitOutsideFunction: opts.kind === 'esm',
    preserveParens: true,
    locations: true,
  };
  try {
    ast = parse(code, parseOpts) as AnyNode;
  } catch (err) {
    if (opts.kind === 'cjs') {
      // ES module syntax in a file node's compile path saw first (module syntax detection):
      // node loads it as an ES module next, through the ESM hooks.
      try { parse(code, { ...parseOpts, sourceType: 'module', allowReturnOutsideFunction: false }); return { code, functions: 0 }; } catch { /* a real error */ }
    }
    return { code, functions: 0, warning: `cannot instrument ${opts.file}: ${(err as Error).message} (left as it is)` };
  }
  const input = inputMap(code, opts.file);
  let tracer: TraceMap | undefined;
  if (input) { try { tracer = new TraceMap(input.map as any, input.mapUrl); } catch { tracer = undefined; } }
  const origin = (line: number, col: number): { file?: string; line: number; col: number } => {
    if (tracer) {
      const p = originalPositionFor(tracer, { line, column: col });
      if (p.line != null && p.source) {
        let src = p.source;
        if (src.startsWith('file:')) { try { src = fileURLToPath(src); } catch { /* keep */ } }
        return { file: src, line: p.line, col: p.column + 1 };
      }
    }
    return { line, col: col + 1 };
  };

  const s = new MagicString(code);
  const mode0 = opts.probe ?? 'lazy';
  let mode = mode0;
  const fns: Array<FnInfo & { file?: string }> = [];
  const lines: Array<{ line: number; col: number; file?: string }> = [];
  const classNames: string[] = [];
  const natives: Array<{ name: string; line: number; col: number; file?: string }> = [];
  let generatedDepth = 0;
  const P = '$mtF[0]&&$mtR';

  const nameOf = (fn: AnyNode, parent: AnyNode | null, grand: AnyNode | null): string => {
    if (fn.id?.name) return fn.id.name;
    if (!parent) return '(anonymous)';
    if (parent.type === 'MethodDefinition') {
      const cls = classNames[classNames.length - 1] ?? '(class)';
      const k = keyName(parent.key, parent.computed);
      if (parent.kind === 'constructor') return `${cls}.constructor`;
      const pre = parent.kind === 'get' ? 'get ' : parent.kind === 'set' ? 'set ' : '';
      return `${cls}.${pre}${parent.static ? 'static ' : ''}${k}`;
    }
    if (parent.type === 'PropertyDefinition') {
      const cls = classNames[classNames.length - 1] ?? '(class)';
      return `${cls}.${keyName(parent.key, parent.computed)}`;
    }
    if (parent.type === 'Property') {
      const pre = parent.kind === 'get' ? 'get ' : parent.kind === 'set' ? 'set ' : '';
      return pre + keyName(parent.key, parent.computed);
    }
    if (parent.type === 'VariableDeclarator' && parent.id.type === 'Identifier') return parent.id.name;
    if (parent.type === 'AssignmentExpression') return memberName(parent.left);
    if (parent.type === 'AssignmentPattern' && parent.left.type === 'Identifier') return parent.left.name;
    if (parent.type === 'ParenthesizedExpression' && grand) return nameOf(fn, grand, null);
    return '(anonymous)';
  };

  // Pre-order for prefixes (appendRight keeps outer before inner), post-order for suffixes
  // (appendLeft after the children's keeps inner before outer).
  const fnStack: Array<AnyNode | null> = [null];
  const walk = (node: AnyNode, parent: AnyNode | null, grand: AnyNode | null): void => {
    let pushedClass = false;
    if (node.type === 'ClassDeclaration' || node.type === 'ClassExpression') {
      let cname = node.id?.name as string | undefined;
      if (!cname && parent?.type === 'VariableDeclarator' && parent.id.type === 'Identifier') cname = parent.id.name;
      const cid = node.id ?? (parent?.type === 'VariableDeclarator' ? parent.id : null);
      if (tracer && cid?.loc) {
        const p = originalPositionFor(tracer, { line: cid.loc.start.line, column: cid.loc.start.column });
        if (p.name) cname = p.name;
      }
      classNames.push(cname ?? '(class)');
      pushedClass = true;
    }
    let fn = isFn(node);
    let k = -1;
    let generated = false;
    let o: ReturnType<typeof origin> | undefined;
    if (fn) {
      const at = parent && (parent.type === 'MethodDefinition' || parent.type === 'Property') && parent.value === node ? parent.key : node;
      o = origin(at.loc.start.line, at.loc.start.column);
      // A function the input's source map does not map is generated (a compiler's helper): left alone.
      if (tracer && o.file === undefined) { fn = false; generated = true; generatedDepth++; fnStack.push(null); }
      // A leaf cannot move memory: left as it is (and inlinable). Not a constructor: a class's
      // field initializers run in its frame.
      else if (!opts.lines && !(parent?.type === 'MethodDefinition' && parent.kind === 'constructor') && isLeaf(node)) { fn = false; generated = true; generatedDepth++; fnStack.push(null); }
    }
    if (fn) {
      const suspends = node.async || node.generator;
      mode = mode0 === 'lazy' ? (suspends && opts.exactThrows !== false ? 'finally' : 'return') : mode0;
      node.$mtMode = mode;
      // Lazy: a plain function's probes say so (e/x), and the runtime infers its throws. Not a
      // function that suspends: a frame gone from the stack at a yield or await did not throw.
      const lazy = mode0 === 'lazy' && mode === 'return' && !suspends;
      node.$mtC = lazy ? 'e' : 'c';
      node.$mtX = lazy ? 'x' : 'r';
      k = fns.length;
      let name = nameOf(node, parent, grand);
      if (tracer) {
        // Minified code: the map may name the identifier at the function's name.
        const id = node.id ?? (parent && (parent.type === 'MethodDefinition' || parent.type === 'Property' || parent.type === 'PropertyDefinition') ? parent.key : parent?.type === 'VariableDeclarator' ? parent.id : null);
        if (id?.loc) {
          const p = originalPositionFor(tracer, { line: id.loc.start.line, column: id.loc.start.column });
          if (p.name) name = name.includes('.') && !name.endsWith('.' + p.name) ? name.replace(/[^.]+$/, p.name) : name.includes('.') ? name : p.name;
        }
      }
      fns.push({ name, ...o! });
      const body = node.body as AnyNode;
      const enter = mode === 'off' ? '' : mode === 'enter' ? `${P}.c($mtT,${k});` : mode === 'return' ? `${P}.${node.$mtC}($mtT,${k});let $mt$v;`
        : `${P}.c($mtT,${k});let $mt$s=0,$mt$v;try{`;
      if (body.type === 'BlockStatement') {
        let at2 = body.start + 1;
        for (const st of body.body as AnyNode[]) {
          if (st.type === 'ExpressionStatement' && typeof st.directive === 'string') at2 = st.end;
          else break;
        }
        node.$mtEnterAt = at2;
        if (enter) s.appendRight(at2, at2 === body.start + 1 ? enter : ';' + enter);
      } else if (mode === 'finally' || mode === 'return') {
        s.appendRight(body.start, `{${enter}return $mt$v=(`);
      }
      node.$mtK = k;
      fnStack.push(node);
    }
    const owner = fnStack[fnStack.length - 1];
    const ownerMode = owner?.$mtMode as typeof mode | undefined;
    const rewriteReturn = node.type === 'ReturnStatement' && owner && (ownerMode === 'finally' || ownerMode === 'return');
    if (rewriteReturn) {
      const k2 = fnStack[fnStack.length - 1]!.$mtK;
      if (node.argument) s.appendRight(node.argument.start, '($mt$v=(');
      else s.appendLeft(node.start + 6, ownerMode === 'return' ? ` (${P}.${owner.$mtX}($mtT,${k2},1),void 0)` : ' ($mt$s=1,void 0)');
    }
    // --native: the call site is wrapped whole, `$mtR.p(<call>,$mtT,k)` after it and the last
    // argument passed through `$mtR.a(arg,$mtT,k)` before it (after every argument is computed),
    // so the call itself, its `this`, its callee and its arguments are the original's. Without
    // arguments: `$mtR.z(<probe before>,<call>,$mtT,k)`. Every tail is `,$mtT,k)` (originalSource).
    let site = -1;
    let siteLast: AnyNode | undefined;
    if (opts.native && generatedDepth === 0) {
      if (node.type === 'ChainExpression') {
        // Only the chain as a whole is wrapped: a call inside it may be skipped by `?.`.
        for (let c = node.expression as AnyNode; c && (c.type === 'CallExpression' || c.type === 'MemberExpression'); c = c.type === 'CallExpression' ? c.callee : c.object) {
          if (c.type === 'CallExpression') c.$mtSpine = true;
        }
      }
      const call = node.type === 'ChainExpression' ? (node.expression.type === 'CallExpression' ? node.expression as AnyNode : undefined)
        : (node.type === 'CallExpression' && !node.$mtSpine) || node.type === 'NewExpression' ? node
        : node.type === 'TaggedTemplateExpression' ? node : undefined;
      const target = parent && ((parent.type === 'AssignmentExpression' && parent.left === node) || parent.type === 'UpdateExpression'
        || ((parent.type === 'ForInStatement' || parent.type === 'ForOfStatement') && parent.left === node));
      if (call && !target) {
        const callee = (call.type === 'TaggedTemplateExpression' ? call.tag : call.callee) as AnyNode;
        let name = calleeName(callee);
        const topLevel = fnStack.length === 1;
        if (!(PLUMBING.test(name) && (name === 'require' || (topLevel && opts.kind === 'cjs')))) {
          if (call.type === 'NewExpression') name = `new ${name}`;
          else if (call.type === 'TaggedTemplateExpression') name += '``';
          site = natives.length;
          natives.push({ name, ...origin(callee.loc!.start.line, callee.loc!.start.column) });
          const args = (call.type === 'TaggedTemplateExpression' ? [] : call.arguments) as AnyNode[];
          const last = args[args.length - 1];
          if (last) {
            siteLast = last.type === 'SpreadElement' ? last.argument : last;
            s.appendRight(node.start, '$mtR.p(');
            s.appendRight(siteLast!.start, '$mtR.a(');
          } else {
            s.appendRight(node.start, `$mtR.z(${P}.n($mtT,${site}),`);
          }
        }
      }
    }
    if (opts.lines) {
      const list = node.type === 'Program' || node.type === 'BlockStatement' || node.type === 'StaticBlock'
        ? (node.body as AnyNode[]) : node.type === 'SwitchCase' ? (node.consequent as AnyNode[]) : null;
      if (list) {
        for (const st of list) {
          if (st.type === 'ExpressionStatement' && typeof st.directive === 'string') continue;
          if (st.type === 'ImportDeclaration' || st.type === 'FunctionDeclaration' || st.type.startsWith('Export')) continue;
          const o = origin(st.loc!.start.line, st.loc!.start.column);
          s.appendRight(st.start, `${P}.l($mtT,${lines.length});`);
          lines.push(o);
        }
      }
    }
    for (const key of Object.keys(node)) {
      if (key === 'loc' || key === 'type') continue;
      const v = node[key];
      if (Array.isArray(v)) {
        for (const c of v) if (c && typeof c.type === 'string') walk(c, node, parent);
      } else if (v && typeof v === 'object' && typeof v.type === 'string') {
        walk(v, node, parent);
      }
    }
    if (site >= 0) {
      if (siteLast) s.appendLeft(siteLast.end, `,$mtT,${site})`);
      s.appendLeft(node.end, `,$mtT,${site})`);
    }
    if (rewriteReturn && node.argument) {
      s.appendLeft(node.argument.end, ownerMode === 'return' ? `),${P}.${owner!.$mtX}($mtT,${owner!.$mtK},1),$mt$v)` : '),$mt$s=1,$mt$v)');
    }
    if (fn) {
      fnStack.pop();
      mode = node.$mtMode;
      const body = node.body as AnyNode;
      // A generator also ends by .return(): a catch tells a throw (status -1) from it (status 0).
      const gencatch = node.generator ? 'catch($mt$e){$mt$s=-1;throw $mt$e}' : '';
      const exit = `}${gencatch}finally{${P}.r($mtT,${k},${node.generator ? '$mt$s>=0?1:0' : '$mt$s'})}`;
      if (mode === 'finally') {
        // An empty body: the exit goes after the entry inserted at the same place.
        if (body.type === 'BlockStatement') (node.$mtEnterAt === body.end - 1 ? s.appendRight : s.appendLeft).call(s, body.end - 1, `;$mt$s=1${exit}`);
        else s.appendLeft(body.end, `),$mt$s=1,$mt$v${exit}}`);
      } else if (mode === 'return') {
        // After a final return or throw the end is not reached: no probe there (smaller code inlines).
        const last = body.type === 'BlockStatement' ? (body.body as AnyNode[])[body.body.length - 1] : undefined;
        if (last && (last.type === 'ReturnStatement' || last.type === 'ThrowStatement')) { /* unreachable end */ }
        else if (body.type === 'BlockStatement') (node.$mtEnterAt === body.end - 1 ? s.appendRight : s.appendLeft).call(s, body.end - 1, `;${P}.${node.$mtX}($mtT,${k},1)`);
        else s.appendLeft(body.end, `),${P}.${node.$mtX}($mtT,${k},1),$mt$v}`);
      }
    }
    if (generated) { fnStack.pop(); generatedDepth--; }
    if (pushedClass) classNames.pop();
  };
  walk(ast, null, null);
  if (fns.length === 0 && lines.length === 0 && natives.length === 0) return { code, functions: 0 };

  // The prelude goes after a hashbang and the directive prologue, on the same line.
  let preludeAt = 0;
  for (const st of ast.body as AnyNode[]) {
    if (st.type === 'ExpressionStatement' && typeof st.directive === 'string') preludeAt = st.end;
    else break;
  }
  if (preludeAt === 0 && code.startsWith('#!')) {
    const nl = code.indexOf('\n');
    preludeAt = nl < 0 ? code.length : nl + 1;
  }
  // The probes read two globals the runtime defines ($mtF, $mtR: non-enumerable, read-only), which
  // TurboFan folds to constants. An ES module imports the runtime first, so they exist even when
  // a cycle runs one of its functions before its body.
  // It also names the file to the runtime, which counts its frames for the call depth (and keeps
  // every function off line 1 column 1, where the stack API puts module bodies).
  const file = opts.file.startsWith('file:') ? opts.file : opts.kind === 'esm' ? pathToFileURL(opts.file).href : opts.file;
  const prelude = (opts.kind === 'esm' ? `import${JSON.stringify(opts.runtimeUrl)};` : '') + `$mtR.m(${JSON.stringify(file)});`;
  s.appendRight(preludeAt, (ast.body as AnyNode[])[0]?.directive !== undefined && preludeAt > 0 && !code.startsWith('#!') ? ';' + prelude : prelude);
  const defaultFile = opts.file.startsWith('file:') ? fileURLToPath(opts.file) : opts.file;
  const table = {
    file: defaultFile,
    fns: fns.map((f) => [f.name, f.line, f.col, f.file && f.file !== defaultFile ? f.file : 0]),
    lines: lines.map((l) => [l.line, l.col, l.file && l.file !== defaultFile ? l.file : 0]),
    calls: natives.map((c) => [c.name, c.line, c.col, c.file && c.file !== defaultFile ? c.file : 0]),
  };
  if (input) s.remove(input.commentStart, code.length);
  // A hoisted declaration: the table is there even when a function runs before the module body.
  s.append(`\nfunction $mtT(){return ${JSON.stringify(table)}}`);
  let out = s.toString();
  // A map back to the input (chained to the input's own), so that with --enable-source-maps
  // columns and the code shown for an uncaught exception are the original's too.
  const inner = `${opts.file}#memtrace-input`;
  let map: unknown = s.generateMap({ hires: true, source: input ? inner : opts.file, includeContent: false });
  if (input) {
    try {
      map = remapping(map as any, (src) => (src === inner ? (input.map as any) : null));
    } catch { /* keep ours */ }
  }
  if (opts.mapUrl) return { code: out + `\n//# sourceMappingURL=${opts.mapUrl}\n`, functions: fns.length, map: JSON.stringify(map) };
  out += `\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
  return { code: out, functions: fns.length };
}
