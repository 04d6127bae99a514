import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ChannelHost } from '../dist/core/channel-host.js';
import { CHANNEL_ENV } from '../dist/runtime/channel.js';
import { root } from './helpers.js';

const probe = pathToFileURL(join(root, 'test/fixtures/runtime/channel-probe.mjs')).href;
const ADDON = existsSync(join(root, 'native', 'build', 'memtrace-runtime.node'));

/** Runs node with `args` and `env`; resolves { code, stdout, stderr }. */
function run(args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, pid: child.pid }));
  });
}

// Prints the environment the program's code sees and its child's, as JSON.
const showEnv = `
const { execFileSync } = require('node:child_process');
const child = JSON.parse(execFileSync(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.env))']));
process.stdout.write(JSON.stringify({ self: process.env, child }));`;

// Both routes: the probe connects synchronously through the runtime addon from a --require
// preload, or (an install without a C compiler, MEMTRACE_NO_ADDON) asynchronously from an
// --import entry that waits for it. Each test holds on either.
for (const route of ADDON ? ['addon', 'no addon'] : ['no addon']) {
  const environment = (host, env) => {
    if (route === 'no addon') process.env.MEMTRACE_NO_ADDON = '1';
    try {
      const e = host.environment(env, probe);
      assert.match(e.NODE_OPTIONS, route === 'addon' ? /--require .*preload\.cjs/ : /--import .*import-entry\.js/);
      return e;
    } finally { delete process.env.MEMTRACE_NO_ADDON; }
  };
  test(`channel (${route}): the program sends, memtrace answers commands, and the program ends by itself`, async () => {
    const host = await ChannelHost.open({ config: { every: 5 } });
    const messages = [];
    host.onMessage((m) => messages.push(m));
    const answers = [];
    host.onPeer((peer) => {
      answers.push(peer.request('echo', { n: 1 }), peer.request('later', 'x'), peer.request('fail').catch((e) => e.message),
        peer.request('missing').catch((e) => e.message));
    });
    // The program waits 300 ms on a timer of its own: the channel neither ends it nor keeps it.
    const r = await run(['-e', 'setTimeout(() => process.exit(7), 300)'], environment(host, process.env));
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stderr, '');
    await host.drained();
    assert.deepEqual(await Promise.all(answers), [{ n: 1 }, 'x', 'asked to fail', "no handler for command 'missing'"]);
    assert.deepEqual(messages, [{ hello: r.pid, config: { every: 5 } }, { exit: 7 }]);
    assert.equal(host.peers.length, 1);
    assert.equal(host.peers[0].pid, r.pid);
    host.close();
  });

  test(`channel (${route}): what the program sent before memtrace listened is delivered to its first listener`, async () => {
    // memtrace starts its sampling thread between the spawn and its onMessage: a short program
    // on a loaded machine had sent everything, its exit included, by then (seen in CI: the
    // process log had no V8 figures and no exiting record).
    const host = await ChannelHost.open();
    const r = await run(['-e', 'process.exitCode = 3'], environment(host, process.env));
    assert.equal(r.code, 3, r.stderr);
    await host.drained();
    const messages = [];
    host.onMessage((m, peer) => messages.push([m, peer.pid]));
    assert.deepEqual(messages, [[{ hello: r.pid, config: null }, r.pid], [{ exit: 3 }, r.pid]]);
    const later = [];
    host.onMessage((m) => later.push(m));
    assert.deepEqual(later, [], 'a later listener gets only what comes after it');
    host.close();
  });

  test(`channel (${route}): an idle program is not kept alive by the channel`, async () => {
    const host = await ChannelHost.open();
    let peers = 0;
    host.onPeer(() => peers++);
    const r = await run(['-e', '1'], environment(host, process.env));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(peers, 1);
    host.close();
  });

  test(`channel (${route}): the program and its children see the untraced environment; only the program connects`, async () => {
    const env = { ...process.env, NODE_OPTIONS: '--no-warnings' };
    const untraced = JSON.parse((await run(['-e', showEnv], env)).stdout);
    const host = await ChannelHost.open();
    const pids = [];
    host.onPeer((p) => pids.push(p.pid));
    const r = await run(['-e', showEnv], environment(host, env));
    assert.equal(r.code, 0, r.stderr);
    const traced = JSON.parse(r.stdout);
    assert.deepEqual(traced, untraced);
    assert.equal(traced.self[CHANNEL_ENV], undefined);
    assert.equal(traced.self.NODE_OPTIONS, '--no-warnings');
    assert.deepEqual(pids, [r.pid]);
    host.close();
  });

  test(`channel (${route}): with tree, descendants connect too`, async () => {
    const host = await ChannelHost.open({ tree: true });
    const pids = [];
    host.onPeer((p) => pids.push(p.pid));
    const r = await run(['-e', showEnv], environment(host, process.env));
    assert.equal(r.code, 0, r.stderr);
    await host.drained();
    assert.equal(pids.length, 2);
    host.close();
  });

  test(`channel (${route}): a grandchild started through a shell does not take the channel meant for the shell`, async () => {
    const host = await ChannelHost.open();
    const pids = [];
    host.onPeer((p) => pids.push(p.pid));
    const env = environment(host, process.env);
    const r = await new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', `"${process.execPath}" -e 'process.stdout.write(String(process.env.${CHANNEL_ENV}))'; echo`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.on('close', (code) => resolve({ code, stdout }));
    });
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), 'undefined');
    assert.deepEqual(pids, []);
    host.close();
  });

  test(`channel (${route}): a probe refuses a socket that is not the one memtrace made`, async () => {
    const host = await ChannelHost.open();
    const env = environment(host, process.env);
    const offer = JSON.parse(env[CHANNEL_ENV]);
    // Someone replaces the socket with their own at the same path.
    rmSync(offer.path);
    const got = [];
    const impostor = createServer((s) => s.on('data', (d) => got.push(String(d))));
    await new Promise((r) => impostor.listen(offer.path, r));
    const r = await run(['-e', '1'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(got, []);
    impostor.close();
    host.close();
  });

  test(`channel (${route}): memtrace refuses a peer without the token`, async () => {
    const host = await ChannelHost.open();
    let peers = 0;
    host.onPeer(() => peers++);
    const env = environment(host, process.env);
    const offer = JSON.parse(env[CHANNEL_ENV]);
    offer.token = '00'.repeat(24);
    const r = await run(['-e', '1'], { ...env, [CHANNEL_ENV]: JSON.stringify(offer) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(peers, 0);
    host.close();
  });

  test(`channel (${route}): a program that closes the channel's fd and reuses the number gets none of the probe's bytes`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memtrace-channel-test-'));
    const file = join(dir, 'own.txt');
    const host = await ChannelHost.open();
    // The program closes every descriptor above stderr it did not open, opens its own file on
    // the lowest free number, then ends: the probe's exit message must not land in it.
    const prog = `const fs = require('fs');
      for (const fd of fs.readdirSync('/proc/self/fd').map(Number)) {
        let target = '';
        try { target = fs.readlinkSync('/proc/self/fd/' + fd); } catch {}
        if (fd > 2 && target.startsWith('socket:')) fs.closeSync(fd);
      }
      const own = fs.openSync(${JSON.stringify(file)}, 'w');
      fs.writeSync(own, 'mine\\n');`;
    const r = await run(['-e', prog], environment(host, process.env));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(file, 'utf8'), 'mine\n');
    host.close();
    rmSync(dir, { recursive: true });
  });
}
