// Shared test helpers: run the real CLI, read logs, make temp dirs.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cli = join(root, 'dist', 'cli.js');

/** Runs `memtrace ARGS` to completion: { status, signal, stdout, stderr }. */
export function memtrace(args, opts = {}) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: opts.cwd ?? root, env: opts.env ?? process.env, timeout: opts.timeout ?? 60_000, input: opts.input });
}

/** Starts `memtrace ARGS` in the background; resolves { status, signal, stdout, stderr } at exit. */
export function memtraceAsync(args, opts = {}) {
  const child = spawn(process.execPath, [cli, ...args], { cwd: opts.cwd ?? root, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((resolve) => child.on('exit', (status, signal) => resolve({ status, signal, stdout, stderr })));
  return { child, done };
}

/** A fresh temporary directory. */
export function tmp() {
  return mkdtempSync(join(tmpdir(), 'memtrace-test-'));
}

/** Reads a JSON Lines log: [header, ...records]. */
export function readJsonl(path) {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Waits `ms`. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
