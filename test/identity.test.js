// The identity rule: a program traced by any memtrace tool behaves exactly as untraced. One
// fixture prints what a program can see of its tracer (environment, its children's, execArgv,
// globals, handles, String(fn), new Function, workers with eval, fork() IPC, cluster,
// inherited fds); every tool that runs a program must give the same bytes and exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, root, tmp } from './helpers.js';

const fixture = join(root, 'test/fixtures/runtime/identity.mjs');
const work = tmp();

/** Every tool that runs a program: its arguments before `--`. */
const TOOLS = {
  process: (log) => ['process', '--no-summary', '-o', log],
  calls: (log) => ['calls', '-o', log],
  malloc: (log) => ['malloc', '-o', log],
  heap: (log) => ['heap', '-o', log],
  spaces: (log) => ['spaces', '-q', '-o', log],
};

/**
 * Variables a tool that follows the whole process tree by design must leave in the environment
 * for its descendants: the malloc interposer is preloaded by the dynamic linker in every process
 * of the tree (`--no-follow` stops it), and node processes among them take a small preload that
 * marks where their start-up ends (NODE_OPTIONS); heap profiles every node process of the tree, because
 * npx, npm and tsx start the real program as a child. Nothing else may differ.
 */
const TREE_VARIABLES = { malloc: /^(LD_PRELOAD|NODE_OPTIONS|MEMTRACE_MALLOC_\w+)$/, heap: /^(NODE_OPTIONS|MEMTRACE_CHANNEL)$/ };

/**
 * On Node 20 the ESM hooks of `calls` run on node's loader thread (module.register()), which
 * opens the program's stdout and stderr streams (two handles) before the program does; where
 * node has in-thread hooks (module.registerHooks, 22.15+) there is no such thread.
 */
const LOADER_THREAD = typeof (await import('node:module')).registerHooks !== 'function';

let n = 0;
/** Runs `argv` with fds 3 and 4 open on fresh files; resolves { code, stdout, stderr, fds }. */
function run(argv, opts = {}) {
  const id = n++;
  const files = [3, 4].map((fd) => join(work, `run${id}.fd${fd}`));
  const fds = files.map((f) => openSync(f, 'w'));
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: work, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe', ...fds] });
    fds.forEach((fd) => closeSync(fd));
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, fds: files.map((f) => readFileSync(f, 'utf8')) }));
  });
}

function without(env, pattern) {
  return pattern ? Object.fromEntries(Object.entries(env).filter(([k]) => !pattern.test(k))) : env;
}

/** The fixture's report with the variables a tree-following tool must keep taken out. */
function normalised(report, tool) {
  const p = TREE_VARIABLES[tool];
  const r = structuredClone(report);
  if (tool === 'calls' && LOADER_THREAD) { delete r.handles; delete r.resources; }
  r.self.env = without(r.self.env, p);
  r.spawned.env = without(r.spawned.env, p);
  for (const m of [...r.fork.got, ...r.cluster.got]) { const s = m.child ?? m.worker; s.env = without(s.env, p); }
  return r;
}

const untraced = run([process.execPath, fixture]);

for (const [tool, args] of Object.entries(TOOLS)) {
  test(`identity: ${tool} leaves the program as it is untraced`, async () => {
    const base = await untraced;
    assert.equal(base.code, 3, base.stderr);
    const r = await run([process.execPath, cli, ...args(join(work, `${tool}.log`)), '--', process.execPath, fixture]);
    // Program's own bytes first; memtrace's own lines (summary, where the log is) come after.
    assert.ok(r.stderr.startsWith(base.stderr), `stderr:\n${r.stderr}`);
    assert.equal(r.code, 3, r.stderr);
    const report = JSON.parse(r.stdout);
    const expected = JSON.parse(base.stdout);
    assert.deepEqual(normalised(report, tool).self, normalised(expected, tool).self, 'the program sees its own environment, execArgv and globals');
    assert.deepEqual(normalised(report, tool), normalised(expected, tool));
    assert.deepEqual(r.fds, ['fd 3\n', 'fd 4\n'], 'inherited fds 3 and 4 reach the program and get only its bytes');
  });
}

test('identity: a shell that opens fd 3 itself gets none of memtrace process\'s bytes in it', async () => {
  const f = join(work, 'shell-fd3.txt');
  const r = await run([process.execPath, cli, 'process', '--no-summary', '-o', join(work, 'shell.log'), '--',
    'bash', '-c', `exec 3>"${f}"; "${process.execPath}" -e "setTimeout(() => {}, 300)"`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(f, 'utf8'), '');
});

for (const sig of ['SIGWINCH', 'SIGCONT']) {
  test(`identity: ${sig} sent to memtrace reaches the program`, async () => {
    const prog = `process.on('${sig}', () => { console.log('got ${sig}'); process.exit(0); }); console.log('ready'); setTimeout(() => process.exit(9), 20000);`;
    const child = spawn(process.execPath, [cli, 'process', '--no-summary', '-o', join(work, `${sig}.log`), '--', process.execPath, '-e', prog], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    child.stdout.on('data', (d) => {
      out += d;
      if (!sent && out.includes('ready')) { sent = true; child.kill(sig); }
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    assert.match(out, new RegExp(`got ${sig}`));
  });
}

/**
 * A bin as npm installs it (node_modules/.bin/x, a symlink to an extensionless-named ES module
 * that imports its siblings: the tsx CLI). node resolves the main through its realpath; a probe
 * that had just stat()ed its socket left node's shared stat buffer saying "socket", node's
 * realpath stopped early on it and the tsx CLI failed (ERR_MODULE_NOT_FOUND) under process,
 * spaces and leaks.
 */
test('identity: a main module started through a node_modules/.bin symlink resolves its own imports, under every tool', async (t) => {
  // Beside memtrace's own files, as in a project that installed both: node's realpath cache
  // then knows the path's first directories, and only a cached one consulted the stale buffer.
  const dir = mkdtempSync(join(root, 'node_modules', '.memtrace-test-binlink-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules', 'pkg', 'dist'), { recursive: true });
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'pkg', 'dist', 'cli.mjs'), "import { word } from './part.mjs';\nconsole.log(word);\n");
  writeFileSync(join(dir, 'node_modules', 'pkg', 'dist', 'part.mjs'), "export const word = 'from the sibling';\n");
  symlinkSync('../pkg/dist/cli.mjs', join(dir, 'node_modules', '.bin', 'x'));
  const bin = join(dir, 'node_modules', '.bin', 'x');
  const base = await run([process.execPath, bin]);
  assert.equal(base.stdout, 'from the sibling\n', base.stderr);
  for (const [tool, toolArgs] of [...Object.entries(TOOLS), ['leaks', (log) => ['leaks', '-o', log]]]) {
    const r = await run([process.execPath, cli, ...toolArgs(join(work, `binlink-${tool}.log`)), '--', process.execPath, bin]);
    assert.equal(r.stdout, base.stdout, `${tool}: ${r.stderr}`);
  }
});

test('identity: a 100 KB command line reaches the program whole, under every tool', async () => {
  const args = Array.from({ length: 2000 }, (_, i) => `/home/user/some/project/src/components/module-${String(i).padStart(5, '0')}.ts`);
  const prog = join(root, 'test/fixtures/runtime/argv.mjs');
  const base = await run([process.execPath, prog, ...args]);
  assert.ok(args.join(' ').length > 100_000);
  for (const [tool, toolArgs] of Object.entries(TOOLS)) {
    const r = await run([process.execPath, cli, ...toolArgs(join(work, `argv-${tool}.log`)), '--', process.execPath, prog, ...args]);
    // The program's own output; the log's own limits are checked by the log's tests.
    assert.equal(r.stdout, base.stdout, `${tool}: ${r.stderr}`);
  }
});

/**
 * An uncaught exception in a CommonJS main module: node prints the line, a caret under the
 * throw and the stack. The program's stderr must be the same bytes traced (memtrace's own
 * `memtrace:` lines may follow). Any `--import` makes node 20 run a CommonJS main through its
 * ESM loader, which moves the caret and adds the loader's frames (cjsLoader, ModuleJob.run...),
 * so probes load with `--require` (runtime/preload.cts); process, spaces and leaks, whose probes
 * must have their channel before the program's first line, connect through the runtime addon
 * (without it they fall back to `--import`); malloc's marks preload (--stacks) too, and calls,
 * whose start is synchronous with the addon's RSS thread (on a node command line without ESM loaders).
 */
const ADDON = existsSync(join(root, 'native', 'build', 'memtrace-runtime.node'));
const SAME_MAIN = ['malloc', 'malloc --stacks', 'heap', ...(ADDON ? ['process', 'spaces', 'leaks', 'calls'] : [])];
const MORE = { leaks: (log) => ['leaks', '-o', log], 'malloc --stacks': (log) => ['malloc', '--stacks', '-o', log] };
for (const where of ['top', 'fn']) {
  test(`identity: an uncaught exception in a CommonJS main (${where === 'top' ? 'at top level' : 'from a function'}) prints the same stderr under every tool`, async () => {
    const prog = join(root, 'test/fixtures/runtime/throws.cjs');
    const base = await run([process.execPath, prog, where]);
    assert.equal(base.code, 1);
    assert.match(base.stderr, /^\s+at /m);
    for (const tool of SAME_MAIN) {
      const r = await run([process.execPath, cli, ...(TOOLS[tool] ?? MORE[tool])(join(work, `throws-${where}-${tool.replace(' ', '')}.log`)), '--', process.execPath, prog, where]);
      assert.equal(r.code, 1, `${tool}: ${r.stderr}`);
      // calls instruments CommonJS in its Module.prototype._compile wrapper, which is on the
      // stack while a module's top level runs: one frame of its own, known and left (a rethrow
      // that took it out would move node's caret line to the rethrow). In the preload's bundle
      // or, without it, in calls-install.js.
      const stderr = tool === 'calls' ? r.stderr.split('\n').filter((l) => !/^ +at Module\._compile \((file:.*\/dist\/runtime\/calls-install\.js|\/.*\/dist\/runtime\/calls-preload\.bundle\.cjs):/.test(l)).join('\n') : r.stderr;
      assert.equal(stderr.slice(0, base.stderr.length), base.stderr, `${tool}: the program's stderr`);
      assert.doesNotMatch(stderr.slice(base.stderr.length), /^\s+at /m, `${tool}: no frame after the program's`);
    }
  });
}

/**
 * Ctrl-C as untraced: a program that handles SIGINT goes on; one that added its own handler and
 * took it off again dies of SIGINT (memtrace exits 128 + 2); one whose handler ran first and
 * took itself off (prependOnceListener) goes on. The probes' own listeners, which
 * write their data first, must not keep the program alive nor let it die where it would not.
 */
test('identity: SIGINT ends or spares the program as untraced, under every tool', async () => {
  const prog = `const h = () => {}; process.on('SIGINT', h); process.off('SIGINT', h);
    const keep = () => { console.log('handled'); process.exitCode = 4; clearInterval(t); };
    if (process.argv[1] === 'keep') process.on('SIGINT', keep);
    if (process.argv[1] === 'once') process.prependOnceListener('SIGINT', keep);
    const t = setInterval(() => {}, 1000); console.log('ready');`;
  const runSig = (pre, mode) => new Promise((resolve) => {
    const argv = [...pre, process.execPath, '-e', prog, mode];
    const child = spawn(argv[0], argv.slice(1), { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      if (out === 'ready\n') child.kill('SIGINT');
    });
    child.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
  for (const mode of ['die', 'keep', 'once']) {
    const base = await runSig([], mode);
    assert.deepEqual([base.code, base.signal], mode === 'die' ? [null, 'SIGINT'] : [4, null]);
    for (const [tool, toolArgs] of Object.entries(TOOLS)) {
      const r = await runSig([process.execPath, cli, ...toolArgs(join(work, `sigint-${mode}-${tool}.log`)), '--'], mode);
      assert.equal(r.out, base.out, `${tool} ${mode}: ${r.err}`);
      assert.equal(r.code, mode === 'die' ? 130 : 4, `${tool} ${mode}: ${r.err}`);
    }
  }
});
