// memtrace leaks: known leaks found with the right group, slope, site and holder; controls
// without a leak; the library; bad input.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { findLeaks, assertNoLeaks } from '../dist/index.js';
import { memtrace, root, tmp } from './helpers.js';

const fx = (f) => join(root, 'test', 'fixtures', 'leaks', f);

function leaks(args) {
  const dir = tmp();
  const r = memtrace(['leaks', '--format', 'json', '-o', join(dir, 'l.jsonl'), ...args], { timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return { summary: JSON.parse(r.stdout), stderr: r.stderr, log: join(dir, 'l.jsonl') };
}

function within10(actual, truth) {
  assert.ok(Math.abs(actual - truth) <= 0.1 * truth, `slope ${actual} is not within 10% of ${truth}`);
}

function group(leak, cls) {
  const g = leak.groups.find((x) => x.cls === cls);
  assert.ok(g, `no ${cls} group in ${leak.groups.map((x) => x.cls).join(', ')}`);
  return g;
}

test('the demo server\'s URL-keyed Buffer cache, driven by --http', () => {
  const port = 20000 + (process.pid % 20000);
  const { summary, log } = leaks(['--http', `http://127.0.0.1:${port}/products?id=1&session={n}`, '--requests', '50', '--', process.execPath, join(root, 'examples', 'leaky-server.js'), '--serve', String(port)]);
  assert.equal(summary.verdict, 'leak');
  const leak = summary.leaks[0];
  // The HTML names where each group was allocated as the text does.
  const html = memtrace(['report', log, '--format', 'html', '-o', '-']).stdout;
  assert.doesNotMatch(html, /\(native code\)/, 'V8\'s "(native code)" placeholder is not shown as a site');
  for (const g of leak.groups.filter((x) => x.site === '(native code)')) assert.ok(html.includes(`by ${g.fn || 'native code'}`), `${g.cls}: by ${g.fn}`);
  within10(leak.entriesPerIteration, 50);
  const buf = group(leak, 'Buffer');
  within10(buf.perIteration, 50);
  assert.match(buf.site, /examples\/leaky-server\.js:17:/);
  assert.ok(leak.shortPath.includes('cache (variable)'), leak.shortPath.join(' → '));
  assert.match(leak.holder, /^Map/);
  // The backing stores are counted: a page is ~5.8 KB.
  const page = 100 * '<li data-i="00">/products?id=1&session=000 item 00</li>'.length;
  assert.ok(leak.bytesPerIteration > 50 * page * 0.9, `bytes/iteration ${leak.bytesPerIteration}, pages of ~${page} B`);
});

test('listeners added to a long-lived EventEmitter', () => {
  const { summary } = leaks(['--scenario', fx('emitter-listeners.js')]);
  const leak = summary.leaks[0];
  const g = group(leak, 'closure onConfigChanged');
  within10(g.perIteration, 40);
  assert.match(g.site, /emitter-listeners\.js:7:/); // handleRequest, which adds it
  assert.ok(leak.shortPath.includes('bus (variable)'), leak.shortPath.join(' → '));
});

test('a Map keyed by small integers: its entries counted as the program sees them', () => {
  const { summary } = leaks(['--scenario', fx('counter-keyed-map.js')]);
  const leak = summary.leaks[0];
  within10(leak.entriesPerIteration, 30);
  assert.match(leak.holder, /^Map/);
  // The holder's label and the entries series end on the same count.
  assert.match(leak.holder, new RegExp(`\\(${leak.entries.at(-1)} entries\\)`), `${leak.holder}: ${leak.entries.join(' → ')}`);
});

test('closures kept by timers never cleared', () => {
  const { summary } = leaks(['--scenario', fx('timer-closures.js')]);
  const leak = summary.leaks[0];
  within10(group(leak, 'Timeout').perIteration, 30);
  const g = group(leak, 'closure poll');
  within10(g.perIteration, 30);
  assert.match(g.site, /timer-closures\.js:5:/);
  assert.match(leak.path.join(' → '), /TimersList/);
});

test('an array growing inside a class instance held by a module singleton', () => {
  const { summary } = leaks(['--scenario', fx('singleton-array.js')]);
  const leak = summary.leaks[0];
  within10(leak.entriesPerIteration, 25);
  const g = group(leak, 'Object');
  assert.match(g.site, /singleton-array\.js:4:/);
  assert.match(leak.shortPath.join(' → '), /registry \(variable\) → MetricsRegistry → \.samples → Array/);
});

test('a TypeScript program run with node --import tsx: the site is the .ts line', () => {
  const { summary } = leaks(['--', process.execPath, '--import', 'tsx', fx('leaky.ts'), 'run']);
  const leak = summary.leaks[0];
  within10(leak.entriesPerIteration, 20);
  assert.match(group(leak, 'Object').site, /leaky\.ts:7:/);
  assert.ok(leak.shortPath.includes('sessions (variable)'));
});

test('a program that marks its own iterations', () => {
  const { summary } = leaks(['--', process.execPath, fx('cache-marks.js')]);
  const leak = summary.leaks[0];
  within10(group(leak, 'Buffer').perIteration, 50);
  assert.match(group(leak, 'Buffer').site, /cache-marks\.js:7:/);
});

test('a leak amid churn of its class: the kept objects are the leak\'s, though all objects of the class fall', () => {
  const { summary } = leaks(['--scenario', fx('leak-amid-churn.js')]);
  assert.equal(summary.leaks.length, 1, summary.leaks.map((l) => l.title).join('; '));
  const leak = summary.leaks[0];
  within10(leak.entriesPerIteration, 30);
  const g = group(leak, 'Session');
  within10(g.perIteration, 30);
  assert.match(g.site ?? '', /leak-amid-churn\.js:13:/); // iteration, which allocates them (V8 names the function)
  assert.ok(leak.shortPath.includes('sessions (variable)'), leak.shortPath.join(' → '));
  assert.ok(!summary.considered.some((c) => /^Session/.test(c.what)), 'the leaking Session objects are not also called a bounded cache');
});

for (const [name, file] of [['a bounded LRU at capacity (lru-cache)', 'control-lru.js'], ['a lazily built singleton', 'control-singleton.js'], ['a pool', 'control-pool.js']]) {
  test(`no leak: ${name}`, () => {
    const { summary, stderr } = leaks(['--scenario', fx(file), '--check']);
    assert.equal(summary.verdict, 'no leak', stderr);
    assert.match(stderr, /no leak found in 5 measured iterations/);
    assert.match(stderr, /Heap used after a full GC/);
    assert.equal(summary.iterations_measured.length, 6);
  });
}

test('--check exits 1 on a leak', () => {
  const r = memtrace(['leaks', '--check', '-o', join(tmp(), 'l.jsonl'), '--scenario', fx('singleton-array.js')], { timeout: 120_000 });
  assert.equal(r.status, 1, r.stderr);
});

test('library: findLeaks and assertNoLeaks', async () => {
  const held = [];
  const r = await findLeaks(() => { for (let i = 0; i < 30; i++) held.push({ i, s: `item ${i}` }); }, { warmup: 2, iterations: 4 });
  const leak = r.leaks.find((l) => l.shortPath.includes('held (variable)'));
  assert.ok(leak, r.format());
  within10(leak.entriesPerIteration, 30);
  assert.match(r.format(), /leaks? found in 4 measured iterations/);
  assert.ok(JSON.parse(JSON.stringify(r)).leaks.length >= 1);
  await assert.rejects(assertNoLeaks(() => { for (let i = 0; i < 30; i++) held.push({ i }); }, { warmup: 1, iterations: 3 }), (e) => e.name === 'LeakError' && /held \(variable\)|Array/.test(e.message));
});

test('--snapshots on files from anywhere, and bad snapshot files', () => {
  const dir = tmp();
  const log = join(dir, 'l.jsonl');
  // Snapshots written by the library's measurer are removed; write three by hand with node.
  const script = `const v8=require('v8');const keep=[];for(let k=0;k<3;k++){for(let i=0;i<200;i++)keep.push({k,i});globalThis.gc?.();v8.writeHeapSnapshot('${dir}/s'+k+'.heapsnapshot');}`;
  const w = memtraceNode(['--expose-gc', '-e', script]);
  assert.equal(w.status, 0, w.stderr);
  const r = memtrace(['leaks', '--format', 'json', '-o', log, '--snapshots', `${dir}/s0.heapsnapshot`, `${dir}/s1.heapsnapshot`, `${dir}/s2.heapsnapshot`]);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.verdict, 'leak');
  within10(s.leaks[0].entriesPerIteration, 200);
  assert.equal(s.leaks[0].groups[0].site, null); // no allocation tracking in these files

  const cut = join(dir, 'cut.heapsnapshot');
  writeFileSync(cut, readFileSync(`${dir}/s0.heapsnapshot`).subarray(0, 100_000));
  const bad = memtrace(['leaks', '-o', log, '--snapshots', cut, `${dir}/s1.heapsnapshot`]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^memtrace: .*cut\.heapsnapshot is not a complete heap snapshot/m);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  const notSnap = join(dir, 'x.heapsnapshot');
  writeFileSync(notSnap, '{"hello": 1}');
  const bad2 = memtrace(['leaks', '-o', log, '--snapshots', notSnap, `${dir}/s1.heapsnapshot`]);
  assert.equal(bad2.status, 2);
  assert.equal(bad2.stderr.trim().split('\n').length, 1, bad2.stderr);
});

import { spawnSync as spawnNode } from 'node:child_process';
function memtraceNode(args) { return spawnNode(process.execPath, args, { encoding: 'utf8' }); }

test('bad input: one line, exit 2, what was measured kept', () => {
  const dir = tmp();
  const log = join(dir, 'l.jsonl');
  const one = (args, re) => {
    const r = memtrace(['leaks', '-o', log, ...args], { timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => !/^memtrace: (baseline|iteration|what was measured)/.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
    return r;
  };
  one(['--scenario', fx('no-iteration.js')], /^memtrace: .*no-iteration\.js exports no iteration\(\) function/);
  one(['--http', 'http://10.0.0.1:80/', '--', process.execPath, '-e', '0'], /^memtrace: --http: 10\.0\.0\.1 is not a loopback address/);
  one(['--http', 'http://example.com/', '--', process.execPath, '-e', '0'], /not a loopback address/);
  one(['--timeout', '1s', '--', process.execPath, fx('never-marks.js')], /did not mark an iteration in 1\.00 s/);
  const early = one(['--', process.execPath, fx('exits-early.js')], /exited with code 0 after 2 of 8 iterations/);
  // A program that crashes keeps its exit code (its own stderr first, then memtrace's one line).
  // ... and memtrace ends with it, not when the wait for a mark (--timeout) runs out.
  const started = Date.now();
  const crash = memtrace(['leaks', '--timeout', '120s', '-o', join(dir, 'crash.jsonl'), '--', process.execPath, '-e', 'throw new Error("boom")'], { timeout: 100_000 });
  assert.ok(Date.now() - started < 60_000, `memtrace waited ${Date.now() - started} ms after the program ended`);
  assert.equal(crash.status, 1, crash.stderr);
  assert.match(crash.stderr, /Error: boom[\s\S]*\nmemtrace: the program exited with code 1 after 0 of 8 iterations/);
  assert.match(early.stderr, /what was measured is in/);
  const recs = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(recs.filter((r) => r.ev === 'iteration').length, 2);
});

test('a path into a string built by appends names its outermost and innermost concatenation, not all 42', async () => {
  const { HeapGraph } = await import('../dist/tools/leaks/graph.js');
  const { pathLabels } = await import('../dist/tools/leaks/paths.js');
  const file = join(tmp(), 'deep.heapsnapshot');
  const w = spawnNode(process.execPath, [fx('deep-string.cjs'), file], { encoding: 'utf8' });
  assert.equal(w.status, 0, w.stderr);
  const g = await HeapGraph.load(file);
  let piece = -1;
  for (let i = 0; i < g.nodeCount && piece < 0; i++) if (g.type(i) === 'string' && g.name(i).startsWith('first piece ')) piece = i;
  const labels = pathLabels(g, g.retainerPath(piece));
  assert.deepEqual(labels.slice(0, 2), ['global', '.journal']);
  assert.match(labels[2], /^\(concatenated string\) "first piece \d+ x+…"$/);
  assert.equal(labels[3], '… 41 more concatenated strings …');
  assert.match(labels[4], /^\(concatenated string\) "first piece \d+"$/);
  assert.equal(labels.length, 6, labels.join(' → '));
});

test('a leak held by a variable itself (a string appended to) is titled by that variable, not "context"', () => {
  // In a process of its own: this one's heap holds the garbage of every test before it.
  const w = spawnNode(process.execPath, [fx('journal.mjs')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(w.status, 0, w.stderr);
  const r = JSON.parse(w.stdout);
  assert.ok(r.length > 0);
  assert.equal(r.leaks.length, 1, r.text);
  assert.equal(r.leaks[0].holder, 'journal (variable)');
  assert.match(r.leaks[0].title, /^\(string\) from journal\.mjs:\d+:\d+: \+\d+\/iteration, held by journal \(variable\)$/);
});

test('assertNoLeaks passes a bounded iteration inside node:test (its tracker of async resources is not a leak)', async () => {
  const recent = [];
  const r = await assertNoLeaks(() => { recent.push({ at: recent.length }); if (recent.length > 5) recent.shift(); }, { warmup: 2, iterations: 4 });
  assert.deepEqual(r.leaks, []);
});
