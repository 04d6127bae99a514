// The in-program side of `memtrace calls`: what the program keeps of its own (source text of
// its functions) and what the trace keeps when the program is killed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, readJsonl, root, tmp } from './helpers.js';

const work = tmp();

for (const sig of ['SIGINT', 'SIGTERM']) {
  test(`calls: a program ended by ${sig} keeps every event up to its end`, async () => {
    const log = join(work, `${sig}.jsonl`);
    const child = spawn(process.execPath, [cli, 'calls', '--trigger', '0', '-o', log, '--', process.execPath, join(root, 'test/fixtures/runtime/ticks.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    child.stdout.on('data', (d) => {
      out += d;
      if (!sent && /^200$/m.test(out)) { sent = true; child.kill(sig); }
    });
    const [code, signal] = await new Promise((resolve) => child.on('close', (c, s) => resolve([c, s])));
    assert.equal(code, 128 + (sig === 'SIGINT' ? 2 : 15), `exit ${code} ${signal}`);
    const printed = Math.max(...out.trim().split('\n').map(Number));
    const returns = readJsonl(log).filter((r) => r.ev === 'return' && r.fn === 'tick').length;
    // Every tick printed had returned before: its return event is in the log.
    assert.ok(returns >= printed, `${returns} tick returns in the log, ${printed} ticks printed`);
  });
}

test('calls: String(fn) of every function of real libraries is their own source, traced or not', () => {
  const prog = join(root, 'test/fixtures/runtime/sources.mjs');
  const bare = spawnSync(process.execPath, [prog], { encoding: 'utf8', cwd: root });
  assert.equal(bare.status, 0, bare.stderr);
  const r = spawnSync(process.execPath, [cli, 'calls', '--trigger', '0', '--include', '**/node_modules/yaml/**', '--include', '**/node_modules/marked/**',
    '--include', '**/node_modules/js-yaml/**', '-o', join(work, 'sources.jsonl'), '--', process.execPath, prog], { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 0, r.stderr);
  const a = JSON.parse(bare.stdout);
  const b = JSON.parse(r.stdout);
  assert.ok(a.count > 200, `${a.count} functions`);
  assert.equal(b.count, a.count);
  const differ = a.sources.map((s, i) => [s, b.sources[i]]).filter(([x, y]) => x !== y);
  assert.deepEqual(differ.slice(0, 3), []);
  // They did run instrumented: the log has their calls.
  const files = new Set(readJsonl(join(work, 'sources.jsonl')).filter((e) => e.ev === 'call').map((e) => /node_modules\/([^/]+)/.exec(e.file)?.[1]));
  for (const lib of ['yaml', 'marked', 'js-yaml']) assert.ok(files.has(lib), `calls of ${lib} in the log: ${[...files]}`);
});

test('calls: the cache key is a 128-bit hash of each string, framed by its length; the program never loads node:crypto', async () => {
  const { Hash128 } = await import('../dist/runtime/hash.js');
  const h = (...parts) => parts.reduce((x, p) => x.update(p), new Hash128()).digest();
  assert.match(h('x'), /^[0-9a-f]{32}$/);
  assert.equal(h('export const a = 1;\n'), h('export const a = 1;\n'));
  // Framing: the same characters split otherwise are another key; so are empty strings.
  assert.notEqual(h('ab', 'c'), h('a', 'bc'));
  assert.notEqual(h('abc'), h('abc', ''));
  // Any one code unit changed, at every position of strings of 1 to 40 (each tail length), changes it.
  const seen = new Set();
  for (let n = 1; n <= 40; n++) {
    const base = 'function f(x) { return x * 2; } // é€'.repeat(2).slice(0, n);
    seen.add(h(base));
    for (let i = 0; i < n; i++) {
      const s = base.slice(0, i) + String.fromCharCode(base.charCodeAt(i) ^ 1) + base.slice(i + 1);
      const k = h(s);
      assert.notEqual(k, h(base), `${JSON.stringify(base)} at ${i}`);
      seen.add(k);
    }
  }
  assert.equal(seen.size, 40 + (40 * 41) / 2, 'a collision among 860 near-identical strings');
  // Under calls (cache on), the program's own process has not loaded node:crypto (OpenSSL: +3.6 MiB of RSS).
  const dir = tmp();
  const prog = join(dir, 'p.mjs');
  writeFileSync(prog, 'function f() { return 1; }\nf();\nconsole.log(process.moduleLoadList.some((m) => /^NativeModule crypto$/.test(m)));\n');
  for (let run = 0; run < 2; run++) { // a miss, then a hit
    const r = spawnSync(process.execPath, [cli, 'calls', '-o', join(dir, `l${run}.jsonl`), '--', process.execPath, prog], { encoding: 'utf8', env: { ...process.env, MEMTRACE_CACHE_DIR: join(dir, 'cache') } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'false\n', `run ${run}`);
  }
});
