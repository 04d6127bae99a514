// Every way TypeScript runs under `memtrace calls`: events name the .ts functions and lines.
// An ESM TypeScript project (type: module, .ts imports) in a temporary copy, tsx linked in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cli, readJsonl, root, tmp } from './helpers.js';

const project = join(tmp(), 'project');
cpSync(join(root, 'test/fixtures/runtime/tsproj'), project, { recursive: true });
mkdirSync(join(project, 'node_modules/.bin'), { recursive: true });
symlinkSync(join(root, 'node_modules/tsx'), join(project, 'node_modules/tsx'));
symlinkSync('../tsx/dist/cli.mjs', join(project, 'node_modules/.bin/tsx'));
// npx, tsx's CLI and the shell find this node first.
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };

let n = 0;
function calls(command) {
  const log = join(project, `calls-${n++}.jsonl`);
  const r = spawnSync(process.execPath, [cli, 'calls', '--trigger', '0', '-o', log, '--', ...command], { cwd: project, env, encoding: 'utf8', timeout: 120_000 });
  return { ...r, records: readJsonl(log).slice(1) };
}

function assertTsEvents(r) {
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /total 2000/);
  assert.doesNotMatch(r.stderr, /cannot instrument/);
  const calls = r.records.filter((e) => e.ev === 'call').map((e) => `${e.fn} ${e.file}:${e.line}`);
  assert.ok(calls.includes('makeItems src/util.ts:2'), calls.slice(0, 5).join(', '));
  assert.ok(calls.includes('total src/main.ts:2'), calls.slice(0, 5).join(', '));
}

test('TypeScript: node --import tsx', () => assertTsEvents(calls(['node', '--import', 'tsx', 'src/main.ts'])));

test('TypeScript: the tsx CLI (it starts node with its own loader; our hooks go outside it)', () => assertTsEvents(calls(['node_modules/.bin/tsx', 'src/main.ts'])));

test('TypeScript: npx tsx', () => assertTsEvents(calls(['npx', 'tsx', 'src/main.ts'])));

test('TypeScript: node runs .ts itself (type stripping)', { skip: !process.features.typescript && 'this node does not run TypeScript itself' }, () => {
  const r = calls(['node', 'src/main.ts']);
  assertTsEvents(r);
  assert.doesNotMatch(r.stderr, /ExperimentalWarning|stripTypeScriptTypes/);
});

test('TypeScript: node runs a CommonJS .ts itself (type stripping in its _compile)', { skip: !process.features.typescript && 'this node does not run TypeScript itself' }, () => {
  // No package.json: node detects the .ts main's format and strips its types inside
  // Module._compile, the very place calls instruments CommonJS (it saw TypeScript: "cannot
  // instrument"). With "type": "commonjs" node strips them before _compile.
  const dir = join(tmp(), 'cjs-ts');
  mkdirSync(dir);
  writeFileSync(join(dir, 'main.ts'), 'function total(n: number): number {\n  let s = 0;\n  for (let i = 0; i < n; i++) s += i;\n  return s;\n}\nconsole.log(`total ${total(2000) > 0 ? 2000 : 0}`);\n');
  const log = join(dir, 'calls.jsonl');
  const r = spawnSync(process.execPath, [cli, 'calls', '--trigger', '0', '-o', log, '--', 'node', 'main.ts'], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'total 2000\n');
  assert.doesNotMatch(r.stderr, /cannot instrument|ExperimentalWarning/);
  const calls = readJsonl(log).slice(1).filter((e) => e.ev === 'call').map((e) => `${e.fn} ${e.file}:${e.line}`);
  assert.ok(calls.includes('total main.ts:1'), calls.join(', '));
});

test('TypeScript: files that cannot be instrumented are named at the end, not "no instrumented function ran"', () => {
  // A loader given by a relative path comes after our hooks: they see TypeScript.
  const r = calls(['bash', '-c', 'node --import ./node_modules/tsx/dist/loader.mjs src/main.ts']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /total 2000/);
  assert.doesNotMatch(r.stderr, /no instrumented function ran/);
  assert.match(r.stderr, /2 files in scope could not be instrumented, and their functions ran without probes: .*src\/main\.ts/);
});
