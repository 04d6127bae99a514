// The package as a user gets it: `npm pack`, then `npm install` of the tarball into a fresh
// project (dependencies from the registry), then every tool through `npx memtrace` from there.
// The interposer must have been built by the install itself (the tarball carries no .so).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'memtrace-install-test-'));
const project = join(work, 'project');
const app = join(root, 'test', 'fixtures', 'install', 'app.js');
let tarball;

function npm(args, cwd) {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `npm ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
function npx(args) {
  return spawnSync('npx', ['--no-install', 'memtrace', ...args], { cwd: project, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } });
}
function jsonReport(log) {
  const r = npx(['report', log, '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

before(() => {
  const out = npm(['pack', '--json', '--pack-destination', work], root);
  const info = JSON.parse(out.slice(out.indexOf('[')))[0];
  tarball = join(work, info.filename);
  const files = info.files.map((f) => f.path);
  for (const f of ['LICENSE', 'README.md', 'ARCHITECTURE.md', 'docs/malloc.md', 'native/build.js', 'native/memtrace_malloc.c', 'native/proc_sampler.c', 'native/memtrace_runtime.c', 'dist/cli.js', 'src/cli.ts']) assert.ok(files.includes(f), `${f} in the tarball`);
  assert.deepEqual(files.filter((f) => f.startsWith('native/build/') || f.endsWith('.so')), [], 'no built library in the tarball');
  // every source map's sources are in the tarball
  for (const map of files.filter((f) => f.endsWith('.js.map')).slice(0, 20)) {
    const dir = map.split('/').slice(0, -1).join('/');
    const { sources } = JSON.parse(execFileSync('tar', ['-xzOf', tarball, `package/${map}`], { encoding: 'utf8' }));
    for (const s of sources) assert.ok(files.includes(join(dir, s)), `${map} → ${s}`);
  }
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'fresh-project', version: '1.0.0', private: true }));
  npm(['install', tarball], project);
});
after(() => rmSync(work, { recursive: true, force: true }));

test('the install built every native part from the tarball: interposer, /proc timer helper, calls RSS addon', () => {
  const pkg = join(project, 'node_modules', 'memtrace');
  for (const built of ['libmemtrace-malloc.so', 'memtrace-proc-sampler', 'memtrace-runtime.node']) {
    assert.ok(existsSync(join(pkg, 'native', 'build', built)), `native/build/${built}`);
  }
  assert.ok(!existsSync(join(pkg, 'native', 'build', 'NOT-BUILT.txt')));
});

test('npx memtrace malloc on a C program: exact counts', () => {
  const exe = join(project, 'known');
  execFileSync('gcc', ['-O1', '-fno-omit-frame-pointer', '-fno-inline', '-o', exe, join(root, 'test', 'fixtures', 'malloc', 'known.c')]);
  const r = npx(['malloc', '--stacks', '-o', 'known.bin', '--', exe]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ok\n');
  const s = jsonReport('known.bin');
  assert.equal(s.tool, 'malloc');
  assert.deepEqual(s.functions.map((f) => [f.op, f.calls]), [['malloc', 61], ['calloc', 2], ['realloc', 1], ['free', 52], ['posix_memalign', 1], ['free(NULL)', 1]]);
  assert.equal(s.bytesAllocated, 4210 + 8000 + 5000 + 256);
  assert.equal(s.liveAtExitBytes, 9000);
  assert.deepEqual(s.unfreedBySite.map((u) => [u.frames[0], u.liveBytes]), [['keep_big (known)', 8000], ['keep_small (known)', 1000]]);
});

test('npx memtrace process, calls, heap, spaces, malloc on a node program', () => {
  const runs = [
    ['process', 'p.jsonl'],
    ['calls', 'c.jsonl'],
    ['heap', 'h.jsonl'],
    ['spaces', 's.jsonl'],
    ['malloc', 'm.bin'],
  ];
  for (const [tool, log] of runs) {
    const r = npx([tool, '-o', log, '--', process.execPath, app, '20000']);
    assert.equal(r.status, 0, `${tool}: ${r.stderr}`);
    assert.equal(r.stdout, 'kept 20000\n', `${tool}: the program's output`);
    const s = jsonReport(log);
    assert.ok(s, `${tool}: a report`);
  }
  const m = jsonReport('m.bin');
  assert.ok(m.allocations >= 20000, `malloc saw the 20000 Buffers: ${m.allocations}`);
});
