// memtrace calls on real programs: the grow() fixture in JS and TS, the trigger, the report, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const fixtures = join(root, 'test', 'fixtures', 'calls');
const tmp = mkdtempSync(join(tmpdir(), 'memtrace-calls-'));
const MiB = 1024 * 1024;

function run(args, opts = {}) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: fixtures, encoding: 'utf8', ...opts });
}
function records(path) {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('grow() in JavaScript: its return event carries +50 MiB, with its name, file and line', () => {
  const out = join(tmp, 'grow-js.jsonl');
  const r = run(['calls', '--output', out, '--', 'node', 'grow.js']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'kept 50 100\n');
  const [header, ...recs] = records(out);
  assert.equal(header.tool, 'calls');
  const ret = recs.filter((e) => e.ev === 'return' && e.fn === 'grow');
  assert.equal(ret.length, 1, JSON.stringify(recs));
  assert.equal(ret[0].file, 'grow.js');
  assert.equal(ret[0].line, 2);
  assert.ok(Math.abs(ret[0].drss - 50 * MiB) <= 0.15 * 50 * MiB, `ΔRSS ${ret[0].drss}`);
  assert.ok(ret[0].depth === 1 && ret[0].rss > 50 * MiB && ret[0].heap > 0);
  assert.match(r.stderr, /grow \(grow\.js:2\)/);
});

test('grow() in TypeScript through tsx: the event names the .ts file and line', () => {
  const out = join(tmp, 'grow-ts.jsonl');
  const r = run(['calls', '--output', out, '--', 'node', '--import', 'tsx', 'grow.ts']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'kept 50\n');
  const ret = records(out).filter((e) => e.ev === 'return' && e.fn === 'grow');
  assert.equal(ret.length, 1);
  assert.equal(ret[0].file, 'grow.ts');
  assert.equal(ret[0].line, 4);
  assert.ok(Math.abs(ret[0].drss - 50 * MiB) <= 0.15 * 50 * MiB, `ΔRSS ${ret[0].drss}`);
});

test('the trigger: 0 writes every call and return; 20m only moves of 20 MiB or more', () => {
  const all = join(tmp, 'all.jsonl');
  assert.equal(run(['calls', '--trigger', '0', '--output', all, '--', 'node', 'grow.js']).status, 0);
  const evs = records(all).slice(1).filter((e) => e.ev);
  // small() runs 100 times and grow() once: every call and return is there, calls before returns.
  assert.equal(evs.filter((e) => e.fn === 'small' && e.ev === 'call').length, 100);
  assert.equal(evs.filter((e) => e.fn === 'small' && e.ev === 'return').length, 100);
  assert.deepEqual(evs.filter((e) => e.fn === 'grow').map((e) => e.ev), ['call', 'return']);
  const big = join(tmp, 'big.jsonl');
  assert.equal(run(['calls', '--trigger', '20m', '--output', big, '--', 'node', 'grow.js']).status, 0);
  const bigEvs = records(big).slice(1).filter((e) => e.ev);
  assert.ok(bigEvs.length >= 1);
  for (const e of bigEvs) assert.ok(Math.abs(e.drss) >= 20 * MiB, JSON.stringify(e));
  assert.ok(bigEvs.some((e) => e.fn === 'grow' && e.ev === 'return'));
});

test('every function form behaves the same traced (every event, every line) as untraced', () => {
  const plain = spawnSync(process.execPath, ['forms.cjs'], { cwd: fixtures, encoding: 'utf8' });
  const out = join(tmp, 'forms.jsonl');
  const traced = run(['calls', '--trigger', '0', '--lines', '--output', out, '--', 'node', 'forms.cjs']);
  assert.equal(plain.status, 1); // it ends with an uncaught exception, on purpose
  assert.equal(traced.status, plain.status);
  assert.equal(traced.stdout, plain.stdout);
  // The uncaught exception: same message and stack lines (columns move on probed lines).
  const frames = (s) => s.split('\n').filter((l) => /^\s+at |Error:/.test(l)).map((l) => l.replace(/:(\d+):\d+\)/, ':$1)'));
  assert.deepEqual(frames(traced.stderr), frames(plain.stderr));
  assert.match(traced.stderr.split('\n')[0], /forms\.cjs:27$/);
  const recs = records(out).slice(1);
  const kinds = (fn) => recs.filter((e) => e.fn === fn).map((e) => e.ev);
  assert.deepEqual(kinds('thrower'), ['call', 'throw', 'call', 'throw', 'call', 'throw']);
  // A throw through two plain functions: each frame gets its throw, the innermost first.
  const relayed = recs.filter((e) => (e.fn === 'relay' || e.fn === 'thrower') && e.ev).slice(2, 6);
  assert.deepEqual(relayed.map((e) => `${e.ev} ${e.fn} ${e.depth}`), ['call relay 1', 'call thrower 2', 'throw thrower 2', 'throw relay 1']);
  assert.deepEqual(kinds('gen'), ['call', 'return', 'call', 'return']); // run to the end, then ended by .return()
  assert.deepEqual(kinds('second'), ['call', 'throw']); // an async function that rejects
  assert.ok(kinds('Derived.constructor').length === 4 && kinds('Base.constructor').length === 4);
  assert.ok(kinds('get g').length === 2 && kinds('set g').length === 2);
  assert.ok(recs.some((e) => e.ev === 'line' && e.line === 27));
  const base = recs.find((e) => e.fn === 'Base.constructor' && e.ev === 'call');
  assert.equal(base.depth, 2); // called by super() inside Derived's constructor
});

test('under a trigger, generators and async functions are probed at their returns as plain functions are (no try/finally); --trigger 0 keeps their exact exits', async () => {
  const { instrumentSource } = await import('../dist/tools/calls/instrument.js');
  const src = 'function* rows(n) { for (let i = 0; i < n; i++) yield i; return n; }\nasync function load(p) { const v = await p; return [v]; }\n';
  const cheap = instrumentSource(src, { file: '/x/s.js', kind: 'cjs', exactThrows: false }).code;
  assert.doesNotMatch(cheap, /try\{|finally\{/, cheap);
  // Call and return probes that the runtime does not read as a plain frame's (a frame that left
  // the stack at a yield or an await did not throw).
  assert.match(cheap, /function\* rows\(n\) \{\$mtF\[0\]&&\$mtR\.c\(\$mtT,0\);/, cheap);
  assert.match(cheap, /return \(\$mt\$v=\(n\),\$mtF\[0\]&&\$mtR\.r\(\$mtT,0,1\),\$mt\$v\)/, cheap);
  assert.match(instrumentSource(src, { file: '/x/s.js', kind: 'cjs' }).code, /finally\{/, 'exact by default (the library)');
  // Run: each moves 20 MiB; the moves are their own return events.
  const dir = mkdtempSync(join(tmp, 'suspend-'));
  writeFileSync(join(dir, 'suspend.cjs'), [
    'const held = [];',
    'function* rows(n) { for (let i = 0; i < n; i++) { held.push(Buffer.alloc(1 << 20, 1)); yield i; } return n; }',
    'async function load() { await null; const b = Buffer.alloc(20 << 20, 1); held.push(b); return b.length; }',
    'for (const i of rows(20)) void i;',
    'load().then((n) => { console.log(n, held.length); });',
    '',
  ].join('\n'));
  const out = join(dir, 'suspend.jsonl');
  const r = run(['calls', '-o', out, '--', 'node', 'suspend.cjs'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '20971520 21\n');
  const evs = records(out).slice(1).filter((e) => e.ev);
  for (const fn of ['rows', 'load']) {
    const ret = evs.filter((e) => e.fn === fn && e.ev === 'return');
    assert.ok(ret.length === 1 && ret[0].drss > 15 * MiB, `${fn}: ${JSON.stringify(evs.filter((e) => e.fn === fn))}`);
  }
  assert.ok(!evs.some((e) => e.ev === 'throw'), JSON.stringify(evs));
});

test('memtrace report reads a calls log: text, json and html', () => {
  const out = join(tmp, 'grow-js.jsonl');
  const text = run(['report', out, '--format', 'text']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /functions whose events moved RSS most/);
  assert.match(text.stdout, /grow \(grow\.js:2\)/);
  const json = JSON.parse(run(['report', out, '--format', 'json']).stdout);
  assert.equal(json.tool, 'calls');
  assert.equal(json.top[0].fn, 'grow');
  const html = join(tmp, 'grow.html');
  assert.equal(run(['report', out, '--format', 'html', '--output', html]).status, 0);
  assert.match(readFileSync(html, 'utf8'), /Call depth at each event/);
});

test('user errors: no command, a bad trigger, an unwritable log; a program that exits with 3 makes memtrace exit 3', () => {
  const none = run(['calls']);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^memtrace: no command given/);
  const bad = run(['calls', '--trigger', 'lots', '--', 'node', 'grow.js']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^memtrace: --trigger: 'lots' is not a size/);
  const unwritable = run(['calls', '--output', '/nonexistent/dir/x.jsonl', '--', 'node', 'grow.js']);
  assert.equal(unwritable.status, 2);
  assert.match(unwritable.stderr, /^memtrace: cannot write log/);
  const out = join(tmp, 'exit.jsonl');
  const ex = run(['calls', '--output', out, '--', 'node', '-e', 'process.exit(3)']);
  assert.equal(ex.status, 3);
  assert.ok(existsSync(out));
});

test('no event: the end says why (no process ran the probes, no instrumented file ran, or no move at a probe), never only "no instrumented function ran"', () => {
  const noNode = run(['calls', '--output', join(tmp, 'sh.jsonl'), '--', 'sh', '-c', 'exit 4']);
  assert.equal(noNode.status, 4);
  assert.match(noNode.stderr, /no event written: no process of the program ran memtrace's probes/);
  assert.deepEqual(records(join(tmp, 'sh.jsonl')).at(-1).end, { processes: 0, instrumented_files: 0 });
  const evalOnly = run(['calls', '--output', join(tmp, 'eval.jsonl'), '--', 'node', '-e', 'const a = []; for (let i = 0; i < 1e5; i++) a.push({ i });']);
  assert.equal(evalOnly.status, 0, evalOnly.stderr);
  assert.match(evalOnly.stderr, /no event written: no instrumented file ran \(a file whose functions only read and compute gets no probes; node_modules is out of scope/);
  const still = join(tmp, 'still.js');
  writeFileSync(still, 'function one() { return [1]; }\none();\n');
  const quiet = run(['calls', '--trigger', '1g', '--output', join(tmp, 'still.jsonl'), '--', 'node', still]);
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.match(quiet.stderr, /no event written: no instrumented function ran while memory moved/);
});

test('a file that does not parse is left as it is with a warning', async () => {
  const { instrumentSource } = await import('../dist/tools/calls/instrument.js');
  const bad = 'function f( { return 1 }';
  const r = instrumentSource(bad, { file: '/x/bad.js', kind: 'cjs' });
  assert.equal(r.code, bad);
  assert.match(r.warning, /cannot instrument \/x\/bad\.js/);
  const good = instrumentSource('"use strict"\nfunction f() { return [1] }\nmodule.exports = f;\n', { file: '/x/good.js', kind: 'cjs' });
  assert.equal(good.functions, 1);
  assert.equal(good.code.split('\n').slice(0, 3).map((l) => l.length > 0).length, 3);
  assert.ok(good.code.startsWith('"use strict";$mtR.m("/x/good.js");'), good.code.slice(0, 40));
  assert.equal(good.code.split('\n')[2], 'module.exports = f;');
});

test('a leaf (a function that only reads and computes: no call, no allocation but a number or a cons string, no write) gets no probes; the rest do', async () => {
  const { instrumentSource } = await import('../dist/tools/calls/instrument.js');
  const src = [
    'const isScalar = (node) => !!node && typeof node === "object" && node[NODE_TYPE] === SCALAR;',
    'function kind(n) { switch (n.type) { case 1: return "a"; default: if (n.x > 2) return n.y; } return null; }',
    'const name = (n) => `${n.first} ${n.last}`;',
    'function wrap(v) { return { v }; }',
    'function call(n) { return isScalar(n); }',
    'function write(n) { n.seen = true; return n; }',
    'function* gen(n) { yield n.x; }',
    'class Holder { rows = new Array(1e6); constructor() {} get size() { return this.rows.length; } }',
    'class Lexer { charAt(n) { return this.buffer[this.pos + n]; } hasChars(n) { return this.pos + n <= this.buffer.length; } }',
    '',
  ].join('\n');
  const r = instrumentSource(src, { file: '/x/leaf.js', kind: 'cjs' });
  const lines = r.code.split('\n');
  assert.equal(lines[0].replace(/^\$mtR\.m\("\/x\/leaf\.js"\);/, ''), src.split('\n')[0], 'isScalar is left as it is');
  assert.equal(lines[1], src.split('\n')[1], 'kind() is left as it is');
  for (const i of [2, 3, 4, 5, 6]) assert.match(lines[i], /\$mtF\[0\]&&\$mtR\./, `line ${i + 1} has probes: ${lines[i]}`);
  // A constructor is never a leaf (its class's field initializers run in its frame); the getter is.
  assert.match(lines[7], /constructor\(\) \{\$mtF\[0\]&&\$mtR\./, lines[7]);
  assert.match(lines[7], /get size\(\) \{ return this\.rows\.length; \}/, lines[7]);
  // `+` allocates at most a cons string (or a number): the lexer's reads are leaves.
  assert.equal(lines[8], src.split('\n')[8], 'charAt() and hasChars() are left as they are');
  assert.equal(r.functions, 6);
  // With --lines every statement is probed, leaves too.
  assert.equal(instrumentSource(src, { file: '/x/leaf.js', kind: 'cjs', lines: true }).functions, 11);
});

test('a CommonJS program is not given node modules it did not load: no worker_threads, no v8, no fs/promises and its stream stack, no perf_hooks, no os, no vm', { skip: !(typeof (await import('node:module')).registerHooks === 'function') && 'node:worker_threads is how node 20 hands its off-thread hooks their reports' }, () => {
  const dir = mkdtempSync(join(tmp, 'cjs-mods-'));
  const prog = join(dir, 'mods.cjs');
  writeFileSync(prog, 'function f(n) { return n < 2 ? n : f(n - 1) + f(n - 2); }\nf(20);\nrequire("fs").writeFileSync(process.argv[2], JSON.stringify(process.moduleLoadList));\n');
  const untraced = spawnSync(process.execPath, [prog, join(dir, 'untraced.json')], { encoding: 'utf8' });
  assert.equal(untraced.status, 0, untraced.stderr);
  const env = { ...process.env, MEMTRACE_CACHE_DIR: join(dir, 'cache') };
  // The second run reads the instrumented file from the cache: the instrumenter is not loaded.
  for (const n of [1, 2]) {
    const r = spawnSync(process.execPath, [cli, 'calls', '-o', join(dir, `${n}.jsonl`), '--', process.execPath, prog, join(dir, `traced-${n}.json`)], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
  }
  const before = new Set(JSON.parse(readFileSync(join(dir, 'untraced.json'), 'utf8')));
  const added = JSON.parse(readFileSync(join(dir, 'traced-2.json'), 'utf8')).filter((m) => !before.has(m));
  // perf_hooks (the `performance` global: 1.5 MiB), os (0.33 MiB) and vm (0.4 MiB: the probes'
  // names are declared by the addon's runScript) too.
  for (const m of ['NativeModule worker_threads', 'NativeModule v8', 'NativeModule internal/fs/promises', 'NativeModule stream', 'NativeModule perf_hooks', 'NativeModule os', 'NativeModule vm']) assert.ok(!added.includes(m), `${m} loaded by memtrace: ${added.join(', ')}`);
});

test('one runtime per process: in a CommonJS program under memtrace calls, an ES module\'s functions and the library\'s traceCalls() reach the same trace, and marks keep their place', () => {
  const dir = mkdtempSync(join(tmp, 'one-runtime-'));
  writeFileSync(join(dir, 'esm-part.mjs'), 'export function fill() {\n  const keep = Buffer.alloc(30 * 1024 * 1024, 1);\n  return keep;\n}\n');
  writeFileSync(join(dir, 'main.cjs'), [
    'function grow() { const a = Buffer.alloc(20 * 1024 * 1024, 1); return a; }',
    'const held = [grow()];',
    `import(${JSON.stringify(join(root, 'dist', 'index.js'))}).then(async ({ traceCalls }) => {`,
    `  const { mark } = await import(${JSON.stringify(join(root, 'dist', 'runtime', 'marks.js'))});`,
    '  const { fill } = await import("./esm-part.mjs");',
    '  mark("before fill");',
    '  held.push(fill());',
    '  mark("after fill");',
    '  const inner = traceCalls(() => { held.push(grow()); }, { trigger: 0 });',
    '  console.log(JSON.stringify(inner.events.filter((e) => e.ev === "return").map((e) => [e.fn, e.drss])));',
    '});',
    '',
  ].join('\n'));
  const out = join(dir, 'calls.jsonl');
  // Trigger 0 on both traces: every probe writes (with a trigger, a move shorter than the
  // publisher's 1 ms reading can reach the next event instead, here after the inner trace).
  const r = run(['calls', '--trigger', '0', '-o', out, '--', process.execPath, 'main.cjs'], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  // The library's trace got the events of the grow() it ran (its sink is the runtime's own).
  const inner = JSON.parse(r.stdout.trim());
  assert.deepEqual(inner.map(([fn]) => fn), ['grow', '(anonymous)']);
  assert.ok(Math.abs(inner[0][1] - 20 * MiB) <= 0.15 * 20 * MiB, `ΔRSS ${inner[0][1]}`);
  const recs = records(out).slice(1);
  const fill = recs.find((e) => e.ev === 'return' && e.fn === 'fill');
  assert.ok(fill, `fill() of the ES module has its return event: ${JSON.stringify(recs)}`);
  assert.equal(fill.file, 'esm-part.mjs');
  assert.ok(Math.abs(fill.drss - 30 * MiB) <= 0.15 * 30 * MiB, `ΔRSS ${fill.drss}`);
  // The command's trace paused for the inner one and took none of its events.
  assert.ok(recs.some((e) => e.pause) && recs.some((e) => e.resume), JSON.stringify(recs));
  assert.equal(recs.filter((e) => e.ev === 'return' && e.fn === 'grow').length, 1);
  // Marks sit between the events they were placed between, by time as by order.
  const at = (pred) => recs.findIndex(pred);
  const before = at((e) => e.mark === 'before fill'), after = at((e) => e.mark === 'after fill'), ev = recs.indexOf(fill);
  assert.ok(before >= 0 && before < ev && ev < after, JSON.stringify(recs));
  assert.ok(recs[before].t <= fill.t && fill.t <= recs[after].t, `${recs[before].t} ${fill.t} ${recs[after].t}`);
  for (let i = 1; i < recs.length; i++) if (typeof recs[i].t === 'number' && typeof recs[i - 1].t === 'number') assert.ok(recs[i].t >= recs[i - 1].t, `times in order: ${JSON.stringify(recs.slice(i - 1, i + 1))}`);
});
