// The program's side of the channel between a traced program and the memtrace process.
//
// memtrace listens on a unix socket in a private temporary directory (mode 0700) and offers it
// to the program in one environment variable (CHANNEL_ENV): the socket's path, its device and
// inode, a random token, memtrace's pid, whether descendants may use it, the tool's options and
// the environment the program would have had untraced. Before it writes a byte, a probe checks
// that the offer is for this very process (its parent is memtrace, unless descendants were
// asked for), that the directory is its own uid's and private, and that the path is still the
// socket memtrace made (same dev/inode). It then connects and sends the token, which memtrace
// checks. The offer is removed from `process.env` at once (and NODE_OPTIONS given back), so the
// program and its children see the environment they would have had untraced.
//
// The connect is synchronous when the runtime addon is built (a blocking connect(2)): the probe
// then loads from a `--require` preload and has its channel before the program's first line,
// and node runs the main module as it does untraced. Without the addon node can only connect
// asynchronously, and the probe is an `--import` whose entry (import-entry.ts) waits for it.
//
// Imports only `node:` modules and runtime files: it is loaded into the traced program.
import { closeSync, fstatSync, lstatSync, rmSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { dirname } from 'node:path';
import { onMainThread, runtimeAddon } from './addon.js';

/** The environment variable that carries memtrace's offer of a channel (JSON, {@link ChannelOffer}). */
export const CHANNEL_ENV = 'MEMTRACE_CHANNEL';

/** What memtrace puts in {@link CHANNEL_ENV}. */
export interface ChannelOffer {
  /** The unix socket memtrace listens on, inside a directory of mode 0700. */
  path: string;
  /** Device and inode of that socket, checked by the probe before it connects. */
  dev: number;
  ino: number;
  /** Random hex token; the first line the probe sends, checked by memtrace. */
  token: string;
  /** memtrace's pid: without `tree`, only its direct child (the program) takes the channel. */
  ppid: number;
  /** Descendants of the program take the channel too (and keep the offer in their environment). */
  tree: boolean;
  /** The tool's options for its probe. */
  config: unknown;
  /** Environment variables memtrace changed, with the values the program would have had (null: unset). */
  restore: Record<string, string | null>;
  /** The probe's URL, which the `--require` entry (preload.cts) or the `--import` entry (import-entry.ts) loads. */
  preload?: string;
  /** Connect synchronously through the runtime addon (memtrace found it built, and loads the probe with `--require`). */
  sync?: boolean;
}

/** A message on the channel: one JSON object per line, in both directions. */
export type ChannelMessage = Record<string, unknown>;

/** A command handler: receives the command's arguments, returns (or resolves to) its answer. */
export type CommandHandler = (args: unknown) => unknown;

/** The program's end of a verified channel to memtrace. */
export interface Channel {
  /** The tool's options for its probe, as memtrace gave them. */
  readonly config: unknown;
  /**
   * Sends one message, synchronously (safe in an `exit` handler: it is written before the
   * process ends). Returns false once the channel is broken (memtrace gone); never throws.
   */
  send(message: ChannelMessage): boolean;
  /**
   * Answers memtrace's command `name` (e.g. "gc", "snapshot"). The handler's value (or the
   * value its promise resolves to) goes back as `{re, ok: true, value}`; a throw as
   * `{re, ok: false, error}`. Commands arrive while the program's event loop runs: the channel
   * never keeps the loop alive by itself.
   */
  onCommand(name: string, handler: CommandHandler): void;
  /** Closes the channel (memtrace sees the end). */
  close(): void;
}

let opened: Promise<Channel | undefined> | undefined;

/**
 * Opens the channel memtrace offered this process, once per process (later calls get the same
 * channel). Resolves to undefined when there is no offer, the offer is for another process, it
 * does not verify, or memtrace does not answer; never throws.
 */
export function openChannel(): Promise<Channel | undefined> {
  opened ??= open().catch(() => undefined);
  return opened;
}

/**
 * Opens the channel at once with a blocking connect: the channel, or undefined as openChannel
 * says; null when this process cannot connect synchronously (the offer does not ask for it, or
 * the runtime addon does not load), and then openChannel() must be awaited. Never throws.
 */
export function openChannelSync(): Channel | undefined | null {
  if (opened) return null;
  // Preloads run in worker threads too: the channel is the main thread's (takeOffer says so).
  if (!onMainThread()) { opened = Promise.resolve(undefined); return undefined; }
  const addon = peekOffer()?.sync === true ? runtimeAddon() : null;
  if (!addon) return null;
  let channel: Channel | undefined;
  try {
    const offer = takeOffer();
    if (offer && verified(offer)) {
      const fd = addon.connect(offer.path);
      // The descriptor is the one connect(2) just made: no program code ran in between.
      if (fd >= 0) {
        // The path must still name memtrace's socket (not one swapped in after the check).
        if (sameSocket(fd, offer)) {
          channel = attach(offer, fd);
        } else {
          closeSync(fd);
        }
      }
    }
  } catch {
    channel = undefined;
  }
  opened = Promise.resolve(channel);
  return channel;
}

/**
 * Calls `start` with this process's channel: at once when it connects synchronously, else once
 * it has connected (an `--import` entry awaits openChannel(), so that is still before the
 * program's first line). Nothing happens without a channel; `start` throwing is swallowed.
 */
export function withChannel(start: (channel: Channel) => void): void {
  const safe = (channel: Channel | undefined) => { if (channel) try { start(channel); } catch { /* never disturb the program */ } };
  const now = openChannelSync();
  if (now === null) void openChannel().then(safe);
  else safe(now);
}

/** memtrace's offer as the environment holds it (left there), when it is one. */
function peekOffer(): ChannelOffer | undefined {
  const raw = process.env[CHANNEL_ENV];
  if (raw === undefined) return undefined;
  try {
    const offer = JSON.parse(raw) as ChannelOffer;
    return offer && typeof offer === 'object' && typeof offer.path === 'string' && typeof offer.token === 'string' ? offer : undefined;
  } catch {
    return undefined;
  }
}

/** The URL of the probe memtrace's offer names (for the `--import` entry), without taking the offer. */
export function offeredProbe(): string | undefined {
  const url = peekOffer()?.preload;
  return typeof url === 'string' ? url : undefined;
}

/**
 * Reads and removes memtrace's offer from the environment: gives back the variables memtrace
 * changed, unless the offer is for the whole tree (then children must inherit it). Returns the
 * offer when it is meant for this process, else undefined. Synchronous, never throws.
 */
export function takeOffer(): ChannelOffer | undefined {
  if (!onMainThread()) return undefined;
  const offer = peekOffer();
  if (!offer) return undefined;
  if (!offer.tree) {
    delete process.env[CHANNEL_ENV];
    for (const [k, v] of Object.entries(offer.restore ?? {})) {
      if (v === null) delete process.env[k];
      else process.env[k] = v;
    }
  }
  if (!offer.tree && process.ppid !== offer.ppid) return undefined;
  return offer;
}

/**
 * Removes the channel's private directory when the memtrace process that made it is gone (it
 * was killed and could not clean up); only a directory that still verifies as memtrace's.
 */
export function removeAbandoned(offer: ChannelOffer): void {
  try {
    process.kill(offer.ppid, 0);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return;
  }
  try { if (verified(offer)) rmSync(dirname(offer.path), { recursive: true, force: true }); } catch { /* not ours to insist */ }
}

/**
 * Calls `fn` with each JSON value of a newline-delimited stream (a line that is not JSON is
 * skipped); `fn` returning false stops reading the rest of that chunk (the socket is done).
 */
export function onJsonLines(socket: Socket, fn: (message: unknown) => boolean): void {
  let pending = '';
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let m: unknown;
      try { m = JSON.parse(line); } catch { continue; }
      if (!fn(m)) return;
    }
  });
}

// Every stat here asks for BigInt results, which node keeps apart: the last number stat sits in
// one buffer node shares, and its realpath of the main module reads a cached directory's type
// from there. A probe's stat of its socket left it saying "socket", realpath stopped early,
// and a main started through a node_modules/.bin symlink (the tsx CLI) could not find its imports.
const BIG = { bigint: true } as const;

/** True when `offer.path` is still the socket memtrace made, in a private directory of this uid. */
function verified(offer: ChannelOffer): boolean {
  const uid = process.getuid?.();
  const dir = lstatSync(dirname(offer.path), BIG);
  if (!dir.isDirectory() || (dir.mode & 0o077n) !== 0n || (uid !== undefined && Number(dir.uid) !== uid)) return false;
  const sock = lstatSync(offer.path, BIG);
  return sock.isSocket() && Number(sock.dev) === offer.dev && Number(sock.ino) === offer.ino && (uid === undefined || Number(sock.uid) === uid);
}

async function open(): Promise<Channel | undefined> {
  const offer = takeOffer();
  if (!offer || !verified(offer)) return undefined;
  // Loaded only when there is a channel to open (a probe may read figures before it).
  const { connect } = await import('node:net');
  const socket = await new Promise<Socket | undefined>((resolve) => {
    const s = connect(offer.path);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
  if (!socket) return undefined;
  // The connect request is released after its callback: the program's first line comes later.
  await new Promise((r) => setImmediate(r));
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  // The fd must be the socket just connected (not one the program opened in between).
  if (typeof fd !== 'number' || fd < 0 || !sameSocket(fd, offer)) { socket.destroy(); return undefined; }
  return attach(offer, fd, socket);
}

/**
 * The channel over descriptor `fd`, connected to the verified offer: sends the token, answers
 * commands. Writes are writeSync on the fd; reading (memtrace's commands) needs a net.Socket,
 * made when the first handler is set if the connect was synchronous: node:net costs a probe
 * that only sends (process, spaces) 2 MiB of RSS in the program.
 */
function attach(offer: ChannelOffer, fd: number, socket?: Socket): Channel | undefined {
  let broken = false;
  let reader: Socket | undefined;
  const handlers = new Map<string, CommandHandler>();
  const read = (s: Socket) => {
    reader = s;
    s.on('error', () => { broken = true; });
    s.on('close', () => removeAbandoned(offer));
    s.unref();
    s.setEncoding('utf8');
    onJsonLines(s, (message) => {
      const m = message as { id?: unknown; cmd?: unknown; args?: unknown };
      if (m && typeof m.cmd === 'string') void answer(m.id, m.cmd, m.args);
      return true;
    });
  };
  // Without a reader, a failed write is how the probe learns that memtrace has gone.
  const lost = () => { broken = true; if (!reader) removeAbandoned(offer); };
  const own = fstatSync(fd, BIG);
  // A program may close descriptors it did not open and reuse the number: use the fd only while
  // it is still this socket (one fstat, ~1 µs).
  const stillOurs = (): boolean => {
    try {
      const now = fstatSync(fd, BIG);
      return now.ino === own.ino && now.dev === own.dev;
    } catch { return false; }
  };
  const wait = new Int32Array(new SharedArrayBuffer(4));
  const write = (line: string): boolean => {
    if (broken) return false;
    if (!stillOurs()) { broken = true; return false; }
    const data = Buffer.from(line);
    let off = 0;
    let tries = 0;
    while (off < data.length) {
      try {
        off += writeSync(fd, data, off);
        tries = 0;
      } catch (err) {
        // The socket is non-blocking: when memtrace is slow to read, wait a little, up to ~2 s.
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && tries++ < 2000) { Atomics.wait(wait, 0, 0, 1); continue; }
        lost();
        return false;
      }
    }
    return true;
  };
  if (!write(`${JSON.stringify({ token: offer.token, pid: process.pid })}\n`)) {
    if (socket) socket.destroy(); else closeSync(fd);
    return undefined;
  }
  if (socket) read(socket);
  const answer = async (id: unknown, cmd: string, args: unknown) => {
    const handler = handlers.get(cmd);
    try {
      if (!handler) throw new Error(`no handler for command '${cmd}'`);
      const value = await handler(args);
      write(`${JSON.stringify({ re: id, ok: true, value: value ?? null })}\n`);
    } catch (err) {
      write(`${JSON.stringify({ re: id, ok: false, error: String((err as Error)?.message ?? err) })}\n`);
    }
  };

  return {
    config: offer.config,
    send: (message) => {
      try { return write(`${JSON.stringify(message)}\n`); } catch { return false; }
    },
    onCommand: (name, handler) => {
      handlers.set(name, handler);
      if (!reader && !broken && stillOurs()) {
        const { Socket: NetSocket } = createRequire(import.meta.url)('node:net') as typeof import('node:net');
        read(new NetSocket({ fd, readable: true, writable: true }));
      }
    },
    close: () => {
      broken = true;
      if (reader) reader.destroy(); else if (stillOurs()) closeSync(fd);
    },
  };
}

/** True when `fd` is a socket and the path still names the socket memtrace made (no swap while connecting). */
function sameSocket(fd: number, offer: ChannelOffer): boolean {
  if (!fstatSync(fd, BIG).isSocket()) return false;
  const again = statSync(offer.path, BIG);
  return Number(again.dev) === offer.dev && Number(again.ino) === offer.ino;
}
