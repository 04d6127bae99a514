// Output paths, logs and the CLI under bad input and faults: nothing memtrace did not create is
// deleted or replaced, the program's exit code is kept, a fault is one line `memtrace: …`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, memtrace, memtraceAsync, tmp, sleep } from './helpers.js';

const node = process.execPath;
const hasMalloc = existsSync(new URL('../native/build/libmemtrace-malloc.so', import.meta.url));

/** A program that calls functions that allocate, marks that it ran, and exits with 3. */
function program(dir, { ms = 0 } = {}) {
  const p = join(dir, 'prog.js');
  writeFileSync(p, [
    `const fs = require('node:fs');`,
    `fs.writeFileSync(${JSON.stringify(join(dir, 'ran'))}, '');`,
    `function grow(n) { const a = []; for (let i = 0; i < n; i++) a.push({ i, s: 'x' + i }); return a; }`,
    `let keep = [];`,
    `const end = Date.now() + ${ms};`,
    `do { for (let k = 0; k < 20; k++) keep.push(grow(500)); keep = keep.slice(-40); } while (Date.now() < end);`,
    // Held by the module (require.cache): a top-level local of a CommonJS main is dead once it has run.
    `module.exports = keep;`,
    `process.exitCode = 3;`,
  ].join('\n'));
  return p;
}

/** The memtrace arguments that run `prog` under `tool` with the log at `out`. */
const TOOLS = {
  process: (out, prog, extra = []) => ['process', '-o', out, ...extra, '--', node, prog],
  calls: (out, prog, extra = []) => ['calls', '--trigger', '0', '-o', out, ...extra, '--', node, prog],
  heap: (out, prog, extra = []) => ['heap', '-o', out, ...extra, '--', node, prog],
  spaces: (out, prog, extra = []) => ['spaces', '-o', out, ...extra, '--', node, prog],
  ...(hasMalloc ? { malloc: (out, prog, extra = []) => ['malloc', '-o', out, ...extra, '--', node, prog] } : {}),
};
const JSON_TOOLS = ['process', 'calls', 'heap', 'spaces'];

/** Makes a character device (1,3 is null, 1,7 is full) in a test folder; false when mknod is not permitted (not root). */
function mknod(path, major, minor) {
  const r = spawnSync('mknod', ['-m', '666', path, 'c', String(major), String(minor)], { encoding: 'utf8' });
  return r.status === 0;
}
const NO_MKNOD = 'mknod is not permitted here (needs root)';

/** stderr is exactly one line `memtrace: …` (no stack, no second line). */
function assertOneLine(stderr, re) {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected:\n${stderr}`);
  assert.match(lines[0], /^memtrace: /);
  if (re) assert.match(lines[0], re);
}

/** Mounts a tmpfs of `size` at `dir`; false when mounting is not permitted here. */
function mountTmpfs(dir, size) {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0;
}
function umount(dir) {
  spawnSync('umount', [dir]);
}
/** Fills the file system at `dir` to the last byte. */
function fill(dir) {
  try { writeFileSync(join(dir, 'filler'), Buffer.alloc(64 << 20)); } catch { /* ENOSPC: full */ }
}

for (const [tool, args] of Object.entries(TOOLS)) {
  test(`${tool}: a device given as -o stays a device, the program's exit code is kept`, (t) => {
    const dir = tmp();
    const dev = join(dir, 'null');
    if (!mknod(dev, 1, 3)) { t.skip(NO_MKNOD); return; }
    const r = memtrace(args(dev, program(dir)), { cwd: dir });
    assert.ok(statSync(dev).isCharacterDevice(), `${dev} is no longer a device`);
    if (tool === 'malloc') {
      // The interposer reads its file back: a device is refused before the run.
      assert.equal(r.status, 2, r.stderr);
      assertOneLine(r.stderr, /not a regular file/);
      assert.ok(!existsSync(join(dir, 'ran')), 'the program ran although the output was refused');
    } else {
      assert.equal(r.status, 3, r.stderr);
      assert.doesNotMatch(r.stderr, /not a memtrace log|internal error/);
      // No sidecar file beside a device.
      assert.deepEqual(readdirSync(dir).sort(), ['null', 'prog.js', 'ran']);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${tool}: a symlink given as -o stays a symlink, the log goes where it points`, () => {
    const dir = tmp();
    const target = join(dir, 'target.log');
    writeFileSync(target, 'old');
    const link = join(dir, 'link.log');
    symlinkSync(target, link);
    const r = memtrace(args(link, program(dir)), { cwd: dir });
    assert.equal(r.status, 3, r.stderr);
    assert.ok(lstatSync(link).isSymbolicLink(), 'the symlink was replaced');
    assert.equal(readlinkSync(link), target);
    const head = readFileSync(target).subarray(0, 11).toString('latin1');
    assert.ok(head.startsWith(tool === 'malloc' ? 'MTMALLOC' : '{"memtrace"'), `the log is not in the target: ${head}`);
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${tool}: stderr closed by its reader (2>&1 | head) keeps the program's exit code and the log`, () => {
    const dir = tmp();
    const out = join(dir, `piped.${tool === 'malloc' ? 'bin' : 'jsonl'}`);
    const r = spawnSync('bash', ['-c', 'set -o pipefail; "$0" "$@" 2>&1 | head -c 1 >/dev/null', node, cli, ...args(out, program(dir))], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 3, r.stderr);
    assert.ok(statSync(out).size > 0, 'the log is written');
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${tool}: an existing file given as -o is written in place (same inode), never unlinked`, () => {
    const dir = tmp();
    const out = join(dir, 'existing.log');
    writeFileSync(out, 'old');
    const ino = statSync(out).ino;
    const r = memtrace(args(out, program(dir)), { cwd: dir });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(statSync(out).ino, ino, 'the file was replaced by another');
    assert.notEqual(readFileSync(out, 'latin1').slice(0, 3), 'old');
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${tool}: -o - is refused in one line before the run, no file "-" is made`, () => {
    const dir = tmp();
    const r = memtrace(args('-', program(dir)), { cwd: dir });
    assert.equal(r.status, 2, r.stderr);
    assertOneLine(r.stderr, /-o -.*stdout/);
    assert.ok(!existsSync(join(dir, '-')));
    assert.ok(!existsSync(join(dir, 'ran')), 'the program ran');
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${tool}: -o under /proc fails before the program runs`, () => {
    const dir = tmp();
    const r = memtrace(args('/proc/memtrace-no-such-file', program(dir)), { cwd: dir });
    assert.equal(r.status, 2, r.stderr);
    assertOneLine(r.stderr, /\/proc\/memtrace-no-such-file/);
    assert.ok(!existsSync(join(dir, 'ran')), 'the program ran untraced, then memtrace failed');
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${tool}: a full disk at start fails before the program runs`, (t) => {
    const dir = tmp();
    const full = join(dir, 'full');
    if (!mountTmpfs(full, '64k')) { t.skip('mount -t tmpfs is not permitted here'); return; }
    try {
      fill(full);
      const r = memtrace(args(join(full, 'x.log'), program(dir)), { cwd: dir });
      assert.equal(r.status, 2, r.stderr);
      assertOneLine(r.stderr, /no space left on device/);
      assert.ok(!existsSync(join(dir, 'ran')), 'the program ran untraced, then memtrace failed');
      assert.deepEqual(readdirSync(full), ['filler']);
    } finally {
      umount(full);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

for (const tool of JSON_TOOLS) {
  test(`${tool}: a 100 KB command line gives a log that memtrace report reads`, () => {
    const dir = tmp();
    const prog = program(dir);
    const paths = Array.from({ length: 3000 }, (_, i) => `/some/long/build/path/src/file${String(i).padStart(5, '0')}.ts`);
    const out = join(dir, 'x.jsonl');
    const args = [...TOOLS[tool](out, prog), ...paths];
    assert.ok(args.join(' ').length > 100_000);
    const r = memtrace(args, { cwd: dir });
    assert.equal(r.status, 3, r.stderr.slice(-2000));
    assert.doesNotMatch(r.stderr, /not a memtrace log/);
    const rep = memtrace(['report', out, '--format', 'json'], { cwd: dir });
    assert.equal(rep.status, 0, rep.stderr);
    assert.ok(JSON.parse(rep.stdout));
    rmSync(dir, { recursive: true, force: true });
  });
}

/** Runs `tool` with its log on a 16 KiB file system that fills during the run. */
function runOnSmallDisk(t, tool, extra, ms) {
  const dir = tmp();
  const small = join(dir, 'small');
  if (!mountTmpfs(small, '16k')) { t.skip('mount -t tmpfs is not permitted here'); return undefined; }
  try {
    const tmpDir = join(dir, 'tmp');
    mkdirSync(tmpDir);
    const r = memtrace(TOOLS[tool](join(small, 'x.jsonl'), program(dir, { ms }), extra), { cwd: dir, env: { ...process.env, TMPDIR: tmpDir } });
    let log = '';
    try { log = readFileSync(join(small, 'x.jsonl'), 'utf8'); } catch { /* none */ }
    return { r, left: readdirSync(tmpDir), log };
  } finally {
    umount(small);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('process: a disk that fills during the run: one warning saying where the log stops, exit code kept', (t) => {
  const got = runOnSmallDisk(t, 'process', ['--interval', '1ms'], 1500);
  if (!got) return;
  assert.equal(got.r.status, 3, got.r.stderr);
  assert.match(got.r.stderr, /no space left on device.*stops after record \d+/);
  assert.equal(got.r.stderr.match(/no space left/g).length, 1, got.r.stderr);
  // The record it names is the last whole one in the file (at 1 kHz records go in batches: the
  // cut falls inside one), and its time is that record's.
  const lines = got.log.split('\n');
  const whole = lines.slice(1, -1).map((l) => JSON.parse(l));
  const [, n, ms] = got.r.stderr.match(/stops after record (\d+) \(t=(\d+) ms\)/);
  assert.equal(Number(n), whole.length, `${whole.length} whole records in the log`);
  assert.equal(Number(ms), Math.round(whole.at(-1).t));
});

test('spaces --interval: a disk that fills during the run keeps the exit code and says where the log stops', (t) => {
  const got = runOnSmallDisk(t, 'spaces', ['--interval', '5ms'], 1500);
  if (!got) return;
  assert.equal(got.r.status, 3, got.r.stderr);
  assert.match(got.r.stderr, /no space left on device.*stops after record \d+/);
});

test('calls: a log cut by a full disk is not presented as whole', (t) => {
  const got = runOnSmallDisk(t, 'calls', [], 300);
  if (!got) return;
  assert.equal(got.r.status, 3, got.r.stderr);
  assert.match(got.r.stderr, /no space left on device.*stops after record \d+/);
});

test('heap --exact: a snapshot that does not fit keeps the exit code and says where it is kept', (t) => {
  const got = runOnSmallDisk(t, 'heap', ['--exact'], 0);
  if (!got) return;
  assert.equal(got.r.status, 3, got.r.stderr);
  assert.match(got.r.stderr, /no space left on device/);
  assert.doesNotMatch(got.r.stderr, /internal error/);
});

test('heap: memtrace killed by SIGKILL leaves no empty log and no temporary folder', async () => {
  const dir = tmp();
  const tmpDir = join(dir, 'tmp');
  mkdirSync(tmpDir);
  const prog = join(dir, 'slow.js');
  writeFileSync(prog, `setTimeout(() => require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'ended'))}, ''), 1500);`);
  const out = join(dir, 'h.jsonl');
  const run = memtraceAsync(['heap', '-o', out, '--', node, prog], { cwd: dir, env: { ...process.env, TMPDIR: tmpDir } });
  while (!readdirSync(tmpDir).some((f) => f.startsWith('memtrace-heap-'))) await sleep(20);
  await sleep(300);
  run.child.kill('SIGKILL');
  await run.done;
  while (!existsSync(join(dir, 'ended'))) await sleep(50);
  const heapDirs = () => readdirSync(tmpDir).filter((f) => f.startsWith('memtrace-heap-'));
  for (let i = 0; i < 100 && heapDirs().length; i++) await sleep(50);
  assert.deepEqual(heapDirs(), [], 'the temporary folder of the profiles was left behind');
  assert.ok(!existsSync(out) || statSync(out).size > 0, 'an empty log was left behind');
  rmSync(dir, { recursive: true, force: true });
});

test('report: a header without its fields is a corrupt log, one line naming the file', () => {
  const dir = tmp();
  for (const tool of JSON_TOOLS) {
    const log = join(dir, `${tool}.jsonl`);
    writeFileSync(log, `{"memtrace":1,"tool":"${tool}"}\n{"t":1}\n`);
    const r = memtrace(['report', log]);
    assert.equal(r.status, 2, `${tool}: ${r.stderr}`);
    assertOneLine(r.stderr, new RegExp(`${tool}\\.jsonl.*header`));
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Each JSON-lines tool's real log of the test program, in `dir`: { tool, log } */
function realLogs(dir) {
  const prog = program(dir);
  return JSON_TOOLS.map((tool) => {
    const log = join(dir, `${tool}.jsonl`);
    assert.equal(memtrace(TOOLS[tool](log, prog), { cwd: dir }).status, 3);
    return { tool, log };
  });
}

test('report: records without a time are a corrupt log, one line naming the line', () => {
  const dir = tmp();
  for (const { tool, log } of realLogs(dir)) {
    const [header] = readFileSync(log, 'utf8').split('\n');
    writeFileSync(log, `${header}\n{"rss":"lots"}\n{"x":1}\n`);
    const r = memtrace(['report', log]);
    assert.equal(r.status, 2, `${tool}: ${r.stderr}`);
    assertOneLine(r.stderr, new RegExp(`${tool}\\.jsonl: line 2`));
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A real process log to report on. */
function processLog(dir) {
  const log = join(dir, 'p.jsonl');
  assert.equal(memtrace(['process', '-o', log, '--interval', '5ms', '--', node, program(dir, { ms: 300 })], { cwd: dir }).status, 3);
  return log;
}

test('report -o - into a pipe closed early (| head) ends quietly', () => {
  const dir = tmp();
  const log = processLog(dir);
  const r = spawnSync('bash', ['-c', `"${node}" "${cli}" report "${log}" --format html -o - | true; echo "status \${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
  assert.match(r.stderr, /status 0\n$/);
  assert.equal(r.stderr.replace(/status 0\n$/, ''), '', r.stderr);
  rmSync(dir, { recursive: true, force: true });
});

test('report into a full device: one line, no stack', (t) => {
  const dir = tmp();
  const full = join(dir, 'full');
  if (!mknod(full, 1, 7)) { t.skip(NO_MKNOD); return; }
  const log = processLog(dir);
  const r = spawnSync('bash', ['-c', `"${node}" "${cli}" report "${log}" --format html -o - > "${full}"`], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assertOneLine(r.stderr, /stdout: no space left on device/);
  assert.ok(statSync(full).isCharacterDevice());
  rmSync(dir, { recursive: true, force: true });
});

test('usage errors are one line `memtrace: …`, exit 2', () => {
  for (const args of [['process', '--bogus', '--', node, '-e', '1'], ['report'], ['frobnicate'], ['heap', '--top'], ['report', 'x', '--format', 'pdf']]) {
    const r = memtrace(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assertOneLine(r.stderr, /--help for usage/);
  }
  // The hint names the subcommand, whichever tool it is.
  for (const tool of ['process', 'calls', 'malloc', 'heap', 'spaces', 'leaks']) {
    const r = memtrace([tool, '--bogus']);
    assert.equal(r.status, 2, `${tool}: ${r.stderr}`);
    assertOneLine(r.stderr, new RegExp(`\\(memtrace ${tool} --help for usage\\)$`));
  }
});

test('no command: the same wording for every tool', () => {
  for (const tool of ['process', 'calls', 'heap', 'spaces', ...(hasMalloc ? ['malloc'] : [])]) {
    const r = memtrace([tool]);
    assert.equal(r.status, 2, `${tool}: ${r.stderr}`);
    assertOneLine(r.stderr, new RegExp(`^memtrace: no command given: put the program after --, e\\.g\\. memtrace ${tool} -- `));
  }
});

test('help: right default names, examples in every subcommand, report says which format fits which log', () => {
  for (const sub of ['process', 'calls', 'malloc', 'heap', 'spaces', 'report']) {
    const r = memtrace([sub, '--help']);
    assert.equal(r.status, 0);
    assert.doesNotMatch(r.stdout, /DATE-PID/, sub);
    assert.match(r.stdout, /Examples:\n {2}\$ memtrace /, sub);
  }
  const rep = memtrace(['report', '--help']).stdout;
  assert.match(rep, /speedscope.*heap/);
  assert.match(rep, /"-" is stdout/);
});

test('heap: CSV and HTML columns say what they count; HTML tables show sizes, CSV raw bytes', () => {
  const dir = tmp();
  const prog = program(dir);
  for (const [mode, extra, counted] of [['sampled', [], 'samples'], ['exact', ['--exact'], 'objects']]) {
    const log = join(dir, `${mode}.jsonl`);
    assert.equal(memtrace(['heap', '-o', log, ...extra, '--', node, prog], { cwd: dir }).status, 3);
    const csv = memtrace(['report', log, '--format', 'csv', '-o', '-']).stdout;
    const head = csv.split('\n')[0];
    assert.match(head, new RegExp(`live_${counted}`), head);
    assert.doesNotMatch(head, /_count/, head);
    assert.match(csv.split('\n')[1], /,\d+,\d+/);
    const html = memtrace(['report', log, '--format', 'html', '-o', '-']).stdout;
    const table = html.slice(html.indexOf('<table>'), html.indexOf('</table>'));
    assert.match(table, /<td[^>]*>[\d.]+ (KiB|MiB|B)<\/td>/);
  }
  rmSync(dir, { recursive: true, force: true });
});

test('report: a malloc trace with bytes changed is refused as corrupt, or its figures stay possible', { skip: !hasMalloc && 'the malloc interposer is not built' }, () => {
  const dir = tmp();
  const bin = join(dir, 'm.bin');
  assert.equal(memtrace(['malloc', '-o', bin, '--', node, program(dir)], { cwd: dir }).status, 3);
  const good = readFileSync(bin);
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let refused = 0;
  for (let round = 0; round < 12; round++) {
    const bad = Buffer.from(good);
    // Change bytes in the middle of the file, where the event chunks are.
    for (let i = 0; i < 24; i++) bad[Math.floor(good.length * (0.2 + 0.6 * rand()))] = Math.floor(rand() * 256);
    const path = join(dir, `bad${round}.bin`);
    writeFileSync(path, bad);
    const r = memtrace(['report', path, '--format', 'json']);
    assert.ok(r.status === 0 || r.status === 2, `round ${round}: exit ${r.status}\n${r.stderr}`);
    if (r.status === 2) {
      refused++;
      assertOneLine(r.stderr, /corrupt trace .*bad\d+\.bin|bad\d+\.bin is corrupt|is not a memtrace/);
    } else {
      const s = JSON.parse(r.stdout);
      assert.ok(s.peakBytes < 2 ** 47, `round ${round}: peak live ${s.peakBytes} bytes accepted`);
    }
  }
  assert.ok(refused > 0, 'no damaged trace was refused');
  rmSync(dir, { recursive: true, force: true });
});

test('report: records whose fields have the wrong shape are a corrupt log in one line, never an internal error', () => {
  const dir = tmp();
  for (const { tool, log } of realLogs(dir)) {
    const [header, ...records] = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const keys = [...new Set(records.flatMap((r) => Object.keys(r)))].filter((k) => k !== 't');
    for (const key of keys) {
      for (const value of [null, { a: 1 }]) {
        const bad = join(dir, 'bad.jsonl');
        writeFileSync(bad, [header, ...records.map((r) => (key in r ? { ...r, [key]: value } : r))].map((r) => JSON.stringify(r)).join('\n') + '\n');
        const r = memtrace(['report', bad]);
        const what = `${tool}: ${key}=${JSON.stringify(value)}`;
        assert.ok(r.status === 0 || r.status === 2, `${what}: exit ${r.status}\n${r.stderr}`);
        if (r.status === 2) assertOneLine(r.stderr, /corrupt log .*bad\.jsonl/);
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

test('leaks: a device given as -o stays a device and the verdict is printed; -o - is refused before the run', (t) => {
  const dir = tmp();
  const dev = join(dir, 'null');
  if (!mknod(dev, 1, 3)) { t.skip(NO_MKNOD); return; }
  writeFileSync(join(dir, 'pool.mjs'), 'const free = [];\nexport function iteration() { const b = free.pop() ?? Buffer.alloc(4096); free.push(b); }\n');
  const r = memtrace(['leaks', '-w', '1', '-n', '2', '--check', '--scenario', 'pool.mjs', '-o', dev], { cwd: dir });
  assert.ok(statSync(dev).isCharacterDevice(), `${dev} is no longer a device`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /no leak found/);
  assert.doesNotMatch(r.stderr, /not a memtrace log|internal error/);
  const dash = memtrace(['leaks', '--scenario', 'pool.mjs', '-o', '-'], { cwd: dir });
  assert.equal(dash.status, 2, dash.stderr);
  assertOneLine(dash.stderr, /-o -.*stdout/);
  rmSync(dir, { recursive: true, force: true });
});
