// memtrace heap names the right file:line in every module form a Node program comes in:
// CommonJS, ESM, tsc output with source maps, node --import tsx (CJS and ESM style), the tsx
// CLI and npx tsx, Node 24's native type stripping; in --all and in live mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const forms = join(root, 'test', 'fixtures', 'heap', 'forms');
const dir = mkdtempSync(join(tmpdir(), 'memtrace-heap-forms-'));
const MiB = 1024 * 1024;
const tsxBin = join(root, 'node_modules', '.bin', 'tsx');
const [major, minor] = process.versions.node.split('.').map(Number);
const stripsTypes = major > 23 || (major === 23 && minor >= 6);

function lineOf(file, text) {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text));
  assert.ok(i >= 0, `${text} not in ${file}`);
  return i + 1;
}

let n = 0;
/** Runs memtrace heap with `args` on `command`; the summary's top site and the stderr. */
function top(args, command) {
  const log = join(dir, `f${++n}.jsonl`);
  const r = spawnSync(process.execPath, [cli, 'heap', ...args, '-o', log, '--', ...command], { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 0, r.stderr);
  const rep = spawnSync(process.execPath, [cli, 'report', log, '--format', 'json'], { encoding: 'utf8' });
  assert.equal(rep.status, 0, rep.stderr);
  return { top: JSON.parse(rep.stdout).top[0], stderr: r.stderr };
}

/** The top site is keepForty's line in `src` and holds about 40 MiB (live or allocated). */
function assertForty(result, src, which) {
  const line = lineOf(src, 'function keepForty');
  const rel = src.slice(root.length + 1);
  assert.equal(result.top?.where, `${rel}:${line}`, result.stderr);
  const bytes = result.top[which];
  assert.ok(Math.abs(bytes - 40 * MiB) < 4 * MiB, `${which} ${bytes} on ${result.top.where}`);
  assert.doesNotMatch(result.stderr, /unknown script/);
}

const cases = [
  ['CommonJS', [process.execPath, join(forms, 'cjs', 'app.js')], join(forms, 'cjs', 'app.js')],
  ['ESM', [process.execPath, join(forms, 'esm', 'app.mjs')], join(forms, 'esm', 'app.mjs')],
  ['tsc output with a source map (CommonJS)', [process.execPath, join(forms, 'tsc', 'app.js')], join(forms, 'tsc', 'app.ts')],
  ['node --import tsx, CommonJS-style TypeScript', [process.execPath, '--import', 'tsx', join(forms, 'cjs', 'app.ts')], join(forms, 'cjs', 'app.ts')],
  ['node --import tsx, ESM TypeScript', [process.execPath, '--import', 'tsx', join(forms, 'esm', 'app.ts')], join(forms, 'esm', 'app.ts')],
  ['the tsx CLI (the program runs as its child)', [tsxBin, join(forms, 'cjs', 'app.ts')], join(forms, 'cjs', 'app.ts')],
  ['npx tsx', ['npx', '--no-install', 'tsx', join(forms, 'esm', 'app.ts')], join(forms, 'esm', 'app.ts')],
];

for (const [name, command, src] of cases) {
  test(`${name}: keepForty's 40 MiB on its line, --all and --at peak`, () => {
    assertForty(top(['--all'], command), src, 'alloc');
    assertForty(top(['--at', 'peak'], command), src, 'live');
  });
}

test('Node\'s own type stripping (.ts run by node itself)', { skip: stripsTypes ? false : `node ${process.version} does not strip types (Node >= 23.6 does; CI runs this under Node 24)` }, () => {
  const src = join(forms, 'esm', 'app.ts');
  assertForty(top(['--all'], [process.execPath, src]), src, 'alloc');
  assertForty(top(['--at', 'peak'], [process.execPath, src]), src, 'live');
});

test('a CommonJS script: live at exit holds nothing of its own, and one line says which options show it', () => {
  const r = top([], [process.execPath, join(forms, 'cjs', 'app.js')]);
  assert.match(r.stderr, /^memtrace: .*--at peak, --at mark:NAME, --at signal or --every/m);
});

test('a CommonJS server stopped by SIGINT: what it holds is live at the signal', async () => {
  const log = join(dir, 'server.jsonl');
  const src = join(forms, 'cjs', 'server.js');
  const child = spawn(process.execPath, [cli, 'heap', '--at', 'signal', '-o', log, '--', process.execPath, src], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stderr.on('data', (d) => { err += d; });
  await new Promise((resolve) => child.stdout.on('data', (d) => { out += d; if (out.includes('ready')) resolve(); }));
  child.kill('SIGINT');
  const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s)));
  assert.equal(code, 130, err);
  const rep = spawnSync(process.execPath, [cli, 'report', log, '--format', 'json'], { encoding: 'utf8' });
  const sum = JSON.parse(rep.stdout);
  assert.equal(sum.at.kind, 'signal');
  assertForty({ top: sum.top[0], stderr: err }, src, 'live');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a frame with a name and no script is an unknown script with its reason, never node internals; V8 builtins are V8\'s', async () => {
  const { readSamplingProfile, groupSites } = await import('../dist/tools/heap/profile.js');
  const frame = (functionName, scriptId, url = '') => ({ functionName, scriptId, url, lineNumber: -1, columnNumber: -1 });
  // The shape of a profile read after V8 collected a CommonJS script (before scripts were kept alive).
  const profile = {
    head: { callFrame: frame('(root)', '0'), selfSize: 0, id: 1, children: [
      { callFrame: frame('', '81'), selfSize: 0, id: 2, children: [
        { callFrame: frame('big', '81'), selfSize: 0, id: 3, children: [] },
        { callFrame: frame('RegExp', '0'), selfSize: 0, id: 4, children: [] },
      ] },
    ] },
    samples: [{ size: 1000, nodeId: 3, ordinal: 1 }, { size: 10, nodeId: 4, ordinal: 2 }],
  };
  const data = readSamplingProfile(profile, true);
  const big = data.frames.find((f) => f.fn === 'big');
  assert.equal(big.kind, 'unknown');
  assert.match(big.why, /collected its script/);
  assert.equal(data.frames.find((f) => f.fn === 'RegExp').kind, 'v8');
  const sites = groupSites(data);
  assert.equal(sites[0].where, '[unknown script]');
  assert.ok(!sites.some((s) => s.where === '[node internals]'));
});

test('under NODE_V8_COVERAGE (c8, node --test --coverage) the program\'s coverage keeps its counts, and lines are still right', () => {
  const cov = join(dir, 'coverage');
  const src = join(forms, 'cjs', 'app.js');
  const log = join(dir, 'cov.jsonl');
  const r = spawnSync(process.execPath, [cli, 'heap', '--all', '-o', log, '--', process.execPath, src], { encoding: 'utf8', cwd: root, env: { ...process.env, NODE_V8_COVERAGE: cov } });
  assert.equal(r.status, 0, r.stderr);
  const rep = spawnSync(process.execPath, [cli, 'report', log, '--format', 'json'], { encoding: 'utf8' });
  assertForty({ top: JSON.parse(rep.stdout).top[0], stderr: r.stderr }, src, 'alloc');
  const counts = readdirSync(cov).map((f) => JSON.parse(readFileSync(join(cov, f), 'utf8')).result.find((s) => s.url.endsWith('/cjs/app.js'))).find(Boolean);
  assert.ok(counts, 'the program wrote its coverage');
  assert.equal(counts.functions.find((f) => f.functionName === 'keepForty')?.ranges[0].count, 1);
});
