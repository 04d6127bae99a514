// memtrace calls --native: events for calls into code that is not instrumented (built-ins,
// node's API), their ΔRSS against what the program itself reads from /proc, and call sites of
// every shape behaving as untraced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, rmSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const fixtures = join(root, 'test', 'fixtures', 'calls');
const tmp = mkdtempSync(join(tmpdir(), 'memtrace-calls-native-'));
const MiB = 1024 * 1024;

const run = (args) => spawnSync(process.execPath, [cli, ...args], { cwd: fixtures, encoding: 'utf8' });
const plain = (file) => spawnSync(process.execPath, [file], { cwd: fixtures, encoding: 'utf8' });
const records = (path) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).slice(1);

test('JSON.parse of a 50 MB string and Buffer.alloc(50 MiB): each its own native call and return, ΔRSS within 15% of what /proc says', () => {
  const out = join(tmp, 'native.jsonl');
  const r = run(['calls', '--native', '--output', out, '--', 'node', '--expose-gc', 'native.cjs']);
  assert.equal(r.status, 0, r.stderr);
  const { truth, items, bytes } = JSON.parse(r.stdout);
  assert.equal(items, 1872458);
  assert.equal(bytes, 50 * MiB);
  const recs = records(out);
  for (const [name, line] of [['JSON.parse', 12], ['Buffer.alloc', 16]]) {
    const evs = recs.filter((e) => e.fn === name);
    assert.deepEqual(evs.map((e) => `${e.ev} ${e.native} ${e.file}:${e.line} ${e.depth}`), [`call true native.cjs:${line} 2`, `return true native.cjs:${line} 2`], JSON.stringify(evs));
    assert.ok(truth[name] > 40 * MiB, `${name} moved ${truth[name]} bytes`);
    assert.ok(Math.abs(evs[1].drss - truth[name]) <= 0.15 * truth[name], `${name}: ΔRSS ${evs[1].drss} against ${truth[name]} from /proc`);
  }
  // The caller's own events do not carry that memory.
  const work = recs.filter((e) => e.fn === 'work' && !e.native);
  for (const e of work) assert.ok(e.drss < 10 * MiB, JSON.stringify(e));
  assert.match(r.stderr, /JSON\.parse \[native\] \(native\.cjs:12\)/);
  const text = run(['report', out, '--format', 'text']);
  assert.match(text.stdout, /, native\)/);
  const json = JSON.parse(run(['report', out, '--format', 'json']).stdout);
  assert.ok(json.top.some((f) => f.fn === 'JSON.parse' && f.native === true));
});

test('without --native the same calls have no event of their own: their memory lands on the next event', () => {
  const out = join(tmp, 'default.jsonl');
  const r = run(['calls', '--output', out, '--', 'node', '--expose-gc', 'native.cjs']);
  assert.equal(r.status, 0, r.stderr);
  const recs = records(out);
  assert.equal(recs.filter((e) => e.native).length, 0);
  assert.ok(recs.some((e) => e.fn === 'rss' && e.drss > 40 * MiB), JSON.stringify(recs));
});

test('call sites of every shape (this, order, getters, ?., tagged templates, new, spread, super, eval, throws) behave as untraced', () => {
  const expected = plain('callsites.cjs');
  assert.equal(expected.status, 0, expected.stderr);
  for (const trigger of ['0', '4k']) {
    const out = join(tmp, `callsites-${trigger}.jsonl`);
    const r = run(['calls', '--native', '--lines', '--trigger', trigger, '--output', out, '--', 'node', 'callsites.cjs']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, expected.stdout);
  }
  const recs = records(join(tmp, 'callsites-0.jsonl'));
  const at = (line) => recs.filter((e) => e.line === line && e.ev !== 'line').map((e) => `${e.ev} ${e.depth} ${e.fn}${e.native ? ' native' : ''}`);
  // A native call that throws; a callback entered from a native call sits inside it.
  assert.deepEqual(at(39).slice(0, 2), ['call 1 JSON.parse native', 'throw 1 JSON.parse native']);
  assert.deepEqual(at(43).slice(0, 1), ['call 1 […].forEach native']);
  assert.deepEqual(at(42).slice(0, 2), ['call 2 boom', 'call 3 new RangeError native']);
  // A call into instrumented code is not native.
  assert.equal(recs.filter((e) => e.native && /^(t|log|curry|o\.m)$/.test(e.fn)).length, 0);
});

test('every function form with --native --lines --trigger 0: same output, same uncaught exception', () => {
  const expected = plain('forms.cjs');
  const out = join(tmp, 'forms.jsonl');
  const r = run(['calls', '--native', '--lines', '--trigger', '0', '--output', out, '--', 'node', 'forms.cjs']);
  assert.equal(r.status, expected.status);
  assert.equal(r.stdout, expected.stdout);
  const frames = (s) => s.split('\n').filter((l) => /^\s+at |Error:/.test(l) && !l.includes('memtrace') && !l.includes('node:internal')).map((l) => l.replace(/:(\d+):\d+\)/, ':$1)'));
  assert.deepEqual(frames(r.stderr), frames(expected.stderr));
});

test('ES modules and TypeScript through tsx: native events name the .ts call site', () => {
  const out = join(tmp, 'ts.jsonl');
  const r = run(['calls', '--native', '--output', out, '--', 'node', '--import', 'tsx', 'grow.ts']);
  assert.equal(r.status, 0, r.stderr);
  const natives = records(out).filter((e) => e.native);
  assert.ok(natives.length > 0);
  for (const e of natives) assert.equal(e.file, 'grow.ts');
});

test('instrumented modules come from the cache on a second run (nothing parsed), keyed by their content', () => {
  const cache = join(tmp, 'cache');
  const env = { ...process.env, MEMTRACE_CACHE_DIR: cache };
  const go = () => spawnSync(process.execPath, [cli, 'calls', '--output', join(tmp, 'cached.jsonl'), '--', 'node', 'grow.js'], { cwd: fixtures, encoding: 'utf8', env });
  const first = go();
  assert.equal(first.status, 0, first.stderr);
  const entries = readdirSync(cache).filter((f) => f.endsWith('.js'));
  assert.equal(entries.length, 1);
  assert.match(readFileSync(join(cache, entries[0].replace(/\.js$/, '.map')), 'utf8'), /"mappings"/);
  // The cached copy is what runs: a line added to it shows.
  appendFileSync(join(cache, entries[0]), ';console.log("from the cache");\n');
  const second = go();
  assert.equal(second.status, 0, second.stderr);
  assert.equal(second.stdout, 'kept 50 100\nfrom the cache\n');
  assert.ok(records(join(tmp, 'cached.jsonl')).some((e) => e.fn === 'grow' && e.ev === 'return'));
  // Other options, another entry.
  assert.equal(spawnSync(process.execPath, [cli, 'calls', '--native', '--output', join(tmp, 'cached2.jsonl'), '--', 'node', 'grow.js'], { cwd: fixtures, encoding: 'utf8', env }).stdout, 'kept 50 100\n');
  assert.equal(readdirSync(cache).filter((f) => f.endsWith('.js')).length, 2);
});

test('the cache stays bounded: entries unused for 30 days go, then the least recently used above the size limit; nothing else is touched', () => {
  const cache = join(tmp, 'cache-sweep');
  mkdirSync(cache, { recursive: true, mode: 0o700 });
  const day = 24 * 3600;
  const now = Date.now() / 1000;
  const plant = (name, ageDays, bytes = 100) => { const p = join(cache, name); writeFileSync(p, 'x'.repeat(bytes)); utimesSync(p, now - ageDays * day, now - ageDays * day); return p; };
  const old = plant(`${'a'.repeat(40)}.js`, 40);
  const oldMap = plant(`${'a'.repeat(40)}.map`, 40);
  const recentBig = plant(`${'b'.repeat(40)}.js`, 5, 6000);
  const newestBig = plant(`${'c'.repeat(40)}.js`, 1, 6000);
  const staleTmp = plant(`${'d'.repeat(40)}.js.123.abc.tmp`, 1);
  const foreign = plant('notes.txt', 400);
  const foreignLike = plant(`${'e'.repeat(40)}.json`, 400);
  const go = () => spawnSync(process.execPath, [cli, 'calls', '--output', join(tmp, 'sweep.jsonl'), '--', 'node', 'grow.js'], { cwd: fixtures, encoding: 'utf8', env: { ...process.env, MEMTRACE_CACHE_DIR: cache, MEMTRACE_CACHE_MAX_BYTES: '10000' } });
  const r = go();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'kept 50 100\n');
  for (const gone of [old, oldMap, staleTmp, recentBig]) assert.ok(!existsSync(gone), `${gone} removed`);
  for (const kept of [newestBig, foreign, foreignLike]) assert.ok(existsSync(kept), `${kept} kept`);
  // The run's own entry was written after the sweep, and a hit older than a day is marked used.
  const own = readdirSync(cache).filter((f) => /^[0-9a-f]{32}\.js$/.test(f));
  assert.equal(own.length, 1);
  utimesSync(join(cache, own[0]), now - 3 * day, now - 3 * day);
  assert.equal(go().stdout, 'kept 50 100\n');
  assert.ok(Date.now() - statSync(join(cache, own[0])).mtimeMs < 3600 * 1000, 'the hit was marked used');
  // Swept at most once a day: an old entry planted now stays until tomorrow.
  const planted = plant(`${'f'.repeat(40)}.js`, 60);
  rmSync(join(cache, own[0]));
  assert.equal(go().status, 0);
  assert.ok(existsSync(planted));
});

test('node --import with the entry named by its absolute path (not its URL) runs the program', () => {
  const out = join(tmp, 'abs.jsonl');
  const r = spawnSync(process.execPath, ['--import', join(root, 'dist', 'runtime', 'calls-register.js'), 'grow.js'], {
    cwd: fixtures, encoding: 'utf8', env: { ...process.env, MEMTRACE_CALLS: JSON.stringify({ output: out, quiet: true }) },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'kept 50 100\n');
  assert.ok(records(out).some((e) => e.fn === 'grow' && e.ev === 'return'));
});
