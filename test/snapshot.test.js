// The heap-snapshot engine on real snapshots written by v8.writeHeapSnapshot from a program
// that knows what it holds: parsed arrays against JSON.parse of the same file, class counts
// and sizes against the program's own figures, retained sizes against a reference that
// removes a node and sees what becomes unreachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, tmp } from './helpers.js';
import { loadSnapshot, parseSnapshot, bornBetween, SnapshotFormatError, SnapshotParser } from '../dist/snapshot/index.js';

const dir = tmp();
const first = join(dir, 'first.heapsnapshot');
const second = join(dir, 'second.heapsnapshot');
const run = spawnSync(process.execPath, ['--expose-gc', join(root, 'test/fixtures/snapshot/holder.cjs'), first, second], { encoding: 'utf8' });
assert.equal(run.status, 0, run.stderr);
const truth = JSON.parse(run.stdout);
const json = JSON.parse(readFileSync(first, 'utf8'));
const graph = await loadSnapshot(first);

test('the parsed arrays are the ones JSON.parse reads, whatever the chunk size', async () => {
  const F = json.snapshot.meta.node_fields.length, EF = json.snapshot.meta.edge_fields.length;
  const toOffset = json.snapshot.meta.edge_fields.indexOf('to_node');
  for (const chunkSize of [4 << 20, 65536, 997]) {
    const g = chunkSize === 4 << 20 ? graph : await loadSnapshot(first, { chunkSize });
    assert.equal(g.nodeCount, json.nodes.length / F);
    assert.equal(g.edgeCount, json.edges.length / EF);
    assert.deepEqual(g.strings, json.strings);
    assert.deepEqual([...g.raw.locations], json.locations);
    for (let n = 0; n < g.nodeCount; n++) {
      if (g.id(n) !== json.nodes[n * F + 2] || g.selfSize(n) !== json.nodes[n * F + 3]) assert.fail(`node ${n} differs (chunk ${chunkSize})`);
    }
    for (let e = 0; e < g.edgeCount; e++) {
      if (g.edgeTarget(e) !== json.edges[e * EF + toOffset] / F) assert.fail(`edge ${e} differs (chunk ${chunkSize})`);
    }
  }
  // The JavaScript tokenizer (where WebAssembly is missing) reads the same arrays.
  const js = new SnapshotParser({ wasm: false });
  const bytes = readFileSync(first);
  for (let o = 0; o < bytes.length; o += 65521) js.write(bytes.subarray(o, o + 65521));
  const rawJs = js.end();
  assert.deepEqual(rawJs.nodes, new Uint32Array(json.nodes));
  assert.deepEqual(rawJs.edges, new Uint32Array(json.edges));
  // The same from one string in memory.
  const fromText = parseSnapshot(readFileSync(first, 'utf8'));
  assert.equal(fromText.nodeCount, graph.nodeCount);
  assert.deepEqual(fromText.strings.slice(-50), json.strings.slice(-50));
});

test('the embedded WebAssembly scanner is scan.wat compiled', (t) => {
  const w = spawnSync('wat2wasm', [join(root, 'src/snapshot/scan.wat'), '--output=-'], { encoding: 'buffer' });
  if (w.error || w.status !== 0) { t.skip('wat2wasm (wabt) is not installed'); return; }
  const embedded = readFileSync(join(root, 'src/snapshot/scan-wasm.ts'), 'utf8').match(/SCAN_WASM = '([^']+)'/)[1];
  assert.equal(embedded, w.stdout.toString('base64'));
});

test('progress is reported up to the file size', async () => {
  const seen = [];
  await loadSnapshot(first, { chunkSize: 1 << 20, onProgress: (p) => { if (p.phase === 'parse') seen.push(p.done); } });
  assert.ok(seen.length >= 3);
  assert.equal(seen.at(-1), readFileSync(first).length);
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
});

test('class names and counts match what the program holds', () => {
  const byClass = new Map(graph.aggregateByClass().map((a) => [a.className, a]));
  assert.equal(byClass.get('Registry').count, 1);
  assert.equal(byClass.get('Leaf').count, truth.LEAVES);
  assert.equal(byClass.get('Payload').count, truth.CLOSURES);
  const texts = graph.findByClass('(string)').filter((n) => graph.name(n).startsWith('text-0'));
  assert.equal(texts.length, truth.STRINGS);
  for (const n of texts) assert.ok(graph.selfSize(n) >= truth.STRING_LENGTH);
  assert.ok(byClass.get('(string)').selfSize >= truth.STRINGS * truth.STRING_LENGTH);
  const held = graph.findByClass('(closure)').filter((n) => graph.name(n) === 'heldPayload');
  assert.equal(held.length, truth.CLOSURES);
  // Buffers: the JS objects, their ArrayBuffers, and the native backing stores (owned by the ArrayBuffers).
  const data = truth.BUFFERS * truth.BUFFER_BYTES;
  assert.ok(byClass.get('system / JSArrayBufferData').selfSize >= data);
  assert.ok(byClass.get('ArrayBuffer').nativeSize >= data);
  assert.ok(byClass.get('Buffer').retainedSize >= data);
  // GC roots: the global objects and what V8's root categories hold, no synthetic node.
  const roots = graph.gcRoots();
  assert.ok(roots.some((n) => graph.className(n) === 'global'));
  assert.ok(roots.length > 10 && roots.every((n) => graph.type(n) !== 'synthetic'));
  // Every node is in exactly one class.
  const total = [...byClass.values()].reduce((s, a) => s + a.count, 0);
  assert.equal(total, graph.nodeCount);
  for (const name of ['(system)', '(compiled code)', '(array)', '(closure)', '(string)']) assert.ok(byClass.has(name), name);
});

// ---- a reference for retained sizes: remove a node, see what becomes unreachable ----
const ref = (() => {
  const meta = json.snapshot.meta;
  const F = meta.node_fields.length, EF = meta.edge_fields.length;
  const N = json.nodes.length / F;
  const et = meta.edge_types[0];
  const weak = et.indexOf('weak'), shortcut = et.indexOf('shortcut');
  const out = Array.from({ length: N }, () => []);
  const retainerTypes = Array.from({ length: N }, () => []);
  let e = 0;
  for (let n = 0; n < N; n++) {
    const count = json.nodes[n * F + 4];
    for (let k = 0; k < count; k++, e++) {
      const type = json.edges[e * EF], to = json.edges[e * EF + 2] / F;
      out[n].push([type, to]);
      retainerTypes[to].push(type);
    }
  }
  // DevTools' rules, written out plainly: user-owned = reachable from the root's shortcut
  // edges without weak edges; an edge counts unless weak, a shortcut not from the root, or
  // from a non-user-owned node into a user-owned one.
  const owned = new Uint8Array(N);
  const stack = [];
  for (const [t, to] of out[0]) if (t === shortcut && !owned[to]) { owned[to] = 1; stack.push(to); }
  while (stack.length) { const v = stack.pop(); for (const [t, to] of out[v]) if (t !== weak && !owned[to]) { owned[to] = 1; stack.push(to); } }
  const counts = (from, t, to) => t !== weak && (from === 0 || (t !== shortcut && (!owned[to] || owned[from])));
  const reach = (starts, removed) => {
    const seen = new Uint8Array(N);
    const todo = starts.filter((s) => !removed.has(s));
    for (const s of todo) seen[s] = 1;
    while (todo.length) {
      const v = todo.pop();
      for (const [t, to] of out[v]) if (!seen[to] && !removed.has(to) && counts(v, t, to)) { seen[to] = 1; todo.push(to); }
    }
    return seen;
  };
  const fromRoot = reach([0], new Set());
  const starts = [0];
  for (let n = 0; n < N; n++) if (!fromRoot[n] && retainerTypes[n].every((t) => t === weak || t === shortcut)) starts.push(n);
  const all = reach(starts, new Set());
  const size = (n) => json.nodes[n * F + 3];
  return {
    N,
    allReached: all.every(Boolean),
    retained(n) {
      const without = reach(starts, new Set([n]));
      let s = 0;
      for (let v = 0; v < N; v++) if (all[v] && !without[v]) s += size(v);
      return s;
    },
  };
})();

test('retained sizes match removing the node and summing what becomes unreachable', () => {
  assert.ok(ref.allReached, 'the reference reaches every node');
  const map = graph.findByClass('Map').find((n) => graph.collectionSize(n) === truth.BUFFERS);
  const registry = graph.findByClass('Registry')[0];
  const picks = [map, registry, graph.findByClass('Buffer')[0], graph.findByClass('ArrayBuffer')[0],
    graph.findByClass('(closure)').find((n) => graph.name(n) === 'handler'), graph.findByClass('Payload')[0]];
  // And nodes spread over the whole graph (a fixed stride: reproducible).
  for (let n = 1; n < graph.nodeCount; n += Math.floor(graph.nodeCount / 40)) picks.push(n);
  for (const n of picks) {
    assert.equal(graph.retainedSize(n), ref.retained(n), `retained size of ${graph.describe(n)} @${graph.id(n)}`);
  }
  // The cache: its 40 Buffers' bytes and a little more (Map table, keys, JS Buffer objects).
  const data = truth.BUFFERS * truth.BUFFER_BYTES;
  assert.ok(graph.retainedSize(map) >= data && graph.retainedSize(map) < data * 1.05, String(graph.retainedSize(map)));
  // The root retains everything.
  assert.equal(graph.retainedSize(0), graph.totalSize());
});

test('a dominator dominates: removing it leaves its node unreachable', () => {
  const leaf = graph.findByClass('Leaf')[0];
  const array = graph.dominator(leaf);
  assert.equal(graph.describe(array), `Array (${truth.LEAVES} entries)`);
  assert.equal(graph.dominator(array), graph.findByClass('Registry')[0]);
  // Class retained size: no Leaf dominates another, so it is the sum of their retained sizes.
  const leaves = graph.findByClass('Leaf');
  const sum = leaves.reduce((s, n) => s + graph.retainedSize(n), 0);
  assert.equal(graph.aggregateByClass().find((a) => a.className === 'Leaf').retainedSize, sum);
});

test('retainer paths name variables, properties, closures and Map keys', () => {
  const map = graph.findByClass('Map').find((n) => graph.collectionSize(n) === truth.BUFFERS);
  const path = graph.formatPath(graph.retainerPath(map));
  assert.match(path, /\.handler → \(closure handler\) → context → cache \(variable\) → Map \(40 entries\)$/);
  const buf = graph.findByClass('Buffer').find((n) => graph.dominator(n) !== 0 && graph.retainerPath(n).some((s) => s.node === map));
  const steps = graph.retainerPath(buf);
  assert.match(steps.at(-1).label, /^value of key "http:\/\/127\.0\.0\.1\/item\/\d+"$/);
  for (const s of steps) assert.notEqual(s.edgeType, 'weak');
  const text = graph.findByClass('(string)').find((n) => graph.name(n).startsWith('text-000007'));
  assert.match(graph.formatPath(graph.retainerPath(text)), /texts \(variable\) → Array \(500 entries\) → \[7\] → \(string\) "text-000007:/);
  // Paths to the 40 Buffers cluster into one signature.
  const sigs = new Set(graph.findByClass('Buffer').filter((n) => graph.retainerPath(n).some((s) => s.node === map)).map((n) => graph.pathSignature(graph.retainerPath(n))));
  assert.equal(sigs.size, 1);
  const clusters = graph.clusterPaths(graph.findByClass('Buffer'));
  const cacheCluster = clusters.find((c) => c.nodes.includes(buf));
  assert.equal(cacheCluster.nodes.length, truth.BUFFERS);
  assert.equal(clusters[0], cacheCluster, 'the cache is the biggest way Buffers are held');
  assert.ok(cacheCluster.retainedSize >= truth.BUFFERS * truth.BUFFER_BYTES);
  assert.deepEqual(graph.retainerPath(map, { maxDepth: 2 }).map((s) => s.label), ['context', 'cache (variable)']);
});

test('a block context\'s variables are named from its ScopeInfo; where a slot has no edge, by the names it can be', async () => {
  const labels = {};
  for (const mode of ['string', 'smi']) {
    const file = join(dir, `block-${mode}.heapsnapshot`);
    const r = spawnSync(process.execPath, [join(root, 'test/fixtures/snapshot/block.cjs'), file, mode], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const g = await loadSnapshot(file);
    const map = g.findByClass('Map').find((n) => g.collectionSize(n) === 5 && g.retainerPath(n).some((s) => s.label === '.reader'));
    assert.ok(map, mode);
    labels[mode] = g.retainerPath(map).at(-1).label;
  }
  assert.equal(labels.string, 'blockHeld (variable)');
  // The small integer's slot has no edge: edge 0 is the Map, which may be either local.
  assert.equal(labels.smi, 'before or blockHeld (variable)');
});

test('a negative column in "locations" (Node 24 writes some) is read as 0, not refused', async () => {
  const text = readFileSync(first, 'latin1');
  const at = text.indexOf('"locations":[') + '"locations":['.length;
  const fields = text.slice(at, text.indexOf(']', at)).split(',');
  assert.ok(fields.length >= 4, 'the fixture has locations');
  fields[3] = '-196';
  const patched = join(dir, 'negative-column.heapsnapshot');
  writeFileSync(patched, text.slice(0, at) + fields.join(',') + text.slice(text.indexOf(']', at)), 'latin1');
  for (const chunkSize of [4 << 20, 997]) {
    const g = await loadSnapshot(patched, { chunkSize });
    assert.equal(g.raw.locations[3], 0);
    assert.deepEqual([...g.raw.locations.subarray(4, 40)], json.locations.slice(4, 40));
  }
  writeFileSync(patched, text.slice(0, at) + '-,' + text.slice(at), 'latin1');
  await assert.rejects(loadSnapshot(patched), SnapshotFormatError);
});

test('objects born between two snapshots of one process, by id', async () => {
  const later = await loadSnapshot(second);
  const born = bornBetween(graph, later);
  const fresh = born.filter((n) => later.className(n) === 'Fresh');
  assert.equal(fresh.length, truth.fresh);
  assert.equal(born.filter((n) => later.className(n) === 'Leaf' || later.className(n) === 'Registry').length, 0);
  const leaf = later.findByClass('Leaf')[0];
  assert.equal(graph.className(graph.nodeIndexById(later.id(leaf))), 'Leaf');
  assert.equal(graph.nodeIndexById(0x7ffffff1), -1);
});

test('a truncated file, a JSON file that is not a snapshot and plain text each fail with one message', async () => {
  const bytes = readFileSync(first);
  const cut = join(dir, 'cut.heapsnapshot');
  for (const at of [10, 2000, Math.floor(bytes.length * 0.6), bytes.length - 3]) {
    writeFileSync(cut, bytes.subarray(0, at));
    await assert.rejects(loadSnapshot(cut), (e) => e instanceof SnapshotFormatError && /truncated|not a V8 heap snapshot/.test(e.message), `cut at ${at}`);
  }
  for (const text of ['{"a": 1}', 'hello', '', '[1,2,3]', '{"snapshot": {"meta": {}}, "nodes": [1]}']) {
    const p = join(dir, 'bad.heapsnapshot');
    writeFileSync(p, text);
    await assert.rejects(loadSnapshot(p), (e) => e instanceof SnapshotFormatError && !e.message.includes('\n'), JSON.stringify(text));
  }
  const parser = new SnapshotParser();
  assert.throws(() => parser.write('{"nodes": [1, 2]}'), SnapshotFormatError);
});

test('heap --exact: the by-constructor table has strings, arrays, closures and native stores, shallow and retained, biggest retained first', async () => {
  const { memtrace } = await import('./helpers.js');
  const log = join(dir, 'exact.jsonl');
  const r = memtrace(['heap', '--exact', '-o', log, '--', process.execPath, join(root, 'test/fixtures/snapshot/exact.cjs')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /live objects at the end by constructor, biggest retained size first/);
  const sum = JSON.parse(memtrace(['report', log, '--format', 'json', '--top', '1000']).stdout);
  const by = new Map(sum.objects.map((o) => [o.name, o]));
  const data = 24 * 256 * 1024;
  assert.ok(by.get('ArrayBuffer').native >= data, JSON.stringify(by.get('ArrayBuffer')));
  assert.ok(by.get('Map').retained >= data, JSON.stringify(by.get('Map')));
  assert.ok(by.get('Buffer').retained >= data && by.get('Buffer').count >= 24);
  assert.ok(by.get('(string)').count >= 2000 && by.get('(string)').bytes >= 2000 * 96, JSON.stringify(by.get('(string)')));
  assert.ok(by.get('(closure)').count >= 500);
  assert.ok(by.get('(array)').count > 0 && by.get('Row').count === 3000);
  for (const o of sum.objects) assert.ok(o.retained >= o.bytes, `${o.name}: retained ${o.retained} < shallow ${o.bytes}`);
  const retained = sum.objects.map((o) => o.retained);
  assert.deepEqual(retained, [...retained].sort((a, b) => b - a));
  // The same snapshot read again: the table is what the engine says.
  const graph = await loadSnapshot(join(dir, 'exact.heapsnapshot'));
  const rows = graph.findByClass('Row');
  assert.equal(by.get('Row').retained, rows.reduce((s, n) => s + graph.retainedSize(n), 0));
});
