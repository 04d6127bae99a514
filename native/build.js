#!/usr/bin/env node
// Builds the malloc interposer (native/build/libmemtrace-malloc.so) with the system's C
// compiler. Run by `npm install` (the package's install script), so it builds in a clone, from
// a tarball and from the registry alike; needs no make and no node-gyp (the library is loaded
// with LD_PRELOAD, it is not a node addon). It never fails the install: when it cannot build,
// it says why in one line and writes the reason to native/build/NOT-BUILT.txt, which
// `memtrace malloc` prints; every other tool works without the library.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'libmemtrace-malloc.so');
const reasonFile = join(here, 'build', 'NOT-BUILT.txt');
const source = join(here, 'memtrace_malloc.c');
const FLAGS = ['-O2', '-g', '-std=gnu11', '-fPIC', '-fno-omit-frame-pointer', '-fvisibility=hidden',
  '-Wall', '-Wextra', '-Wno-unused-parameter', '-shared'];
const LIBS = ['-ldl', '-lpthread'];

function onPath(cmd) {
  if (cmd.includes('/')) return isFile(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir || '.', cmd);
    if (isFile(p)) return p;
  }
  return undefined;
}
function isFile(p) {
  try { return statSync(p).isFile(); } catch { return false; }
}

/** The compiler to use: $CC (may carry flags, "gcc -m64"), else the first of cc, gcc, clang. */
function compiler() {
  const cc = process.env.CC?.trim();
  if (cc) {
    const [cmd, ...args] = cc.split(/\s+/);
    return onPath(cmd) ? { cmd, args } : { missing: `CC=${cc}: ${cmd} not found` };
  }
  for (const cmd of ['cc', 'gcc', 'clang']) if (onPath(cmd)) return { cmd, args: [] };
  return { missing: 'no C compiler found (looked for cc, gcc and clang on PATH; install gcc, or set CC)' };
}

function fail(reason) {
  mkdirSync(dirname(reasonFile), { recursive: true });
  writeFileSync(reasonFile, reason + '\n');
  process.stderr.write(`memtrace: the malloc interposer was not built: ${reason}; memtrace malloc will say so, the other tools work\n`);
}

function build() {
  if (process.platform !== 'linux') return fail(`${process.platform} is not Linux (memtrace malloc needs glibc's LD_PRELOAD)`);
  const c = compiler();
  if (c.missing) return fail(c.missing);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(c.cmd, [...c.args, ...FLAGS, '-o', tmp, source, ...LIBS], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    const lines = `${r.stderr ?? ''}${r.stdout ?? ''}`.split('\n').filter(Boolean);
    const first = lines.find((l) => /\berror\b/i.test(l)) ?? lines[0] ?? r.error?.message ?? `exit status ${r.status}`;
    return fail(`${c.cmd} failed: ${first.trim()}`);
  }
  renameSync(tmp, out);
  rmSync(reasonFile, { force: true });
}

build();

// The timer-paced /proc sampler of `memtrace process` (proc_sampler.c): best effort and silent;
// without it `memtrace process` paces its sampling thread with Atomics.wait.
function buildSampler() {
  const c = compiler();
  if (c.missing || process.platform !== 'linux') return;
  const exe = join(here, 'build', 'memtrace-proc-sampler');
  const tmp = `${exe}.${process.pid}.tmp`;
  const r = spawnSync(c.cmd, [...c.args, '-O2', '-std=gnu11', '-Wall', '-Wextra', '-o', tmp, join(here, 'proc_sampler.c')], { encoding: 'utf8' });
  if (r.status === 0) renameSync(tmp, exe);
  else rmSync(tmp, { force: true });
}
buildSampler();
// The runtime's addon (native/memtrace_runtime.c, a Node-API addon that declares the few calls
// it makes: no node headers): the probes' synchronous channel connect and the RSS publisher
// thread of `memtrace calls`. Without it, probes load with --import and connect asynchronously,
// and calls uses a Worker thread (11-20 MiB more RSS in the traced program).
function buildRuntime() {
  const addon = join(here, 'build', 'memtrace-runtime.node');
  const c = compiler();
  if (process.platform !== 'linux' || c.missing) return;
  mkdirSync(dirname(addon), { recursive: true });
  const tmp = `${addon}.${process.pid}.tmp`;
  const r = spawnSync(c.cmd, [...c.args, ...FLAGS, '-o', tmp, join(here, 'memtrace_runtime.c'), '-lpthread'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    // Silent: every tool works without it (the install says one line, for the interposer).
    return;
  }
  renameSync(tmp, addon);
}
buildRuntime();
