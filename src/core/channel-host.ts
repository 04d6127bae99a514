// memtrace's side of the channel to a traced program (the program's side is runtime/channel.ts).
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { syncConnectAvailable } from '../runtime/addon.js';
import { randomBytesSync } from './fsutil.js';
import { CHANNEL_ENV, onJsonLines, type ChannelMessage, type ChannelOffer } from '../runtime/channel.js';

/** The `--require` entry that loads a probe named in the offer (runtime/preload.cts). */
export const REQUIRE_ENTRY = fileURLToPath(new URL('../runtime/preload.cjs', import.meta.url));
/** The `--import` entry that loads it and waits for its channel when the runtime addon is not built (runtime/import-entry.ts). */
const IMPORT_ENTRY = new URL('../runtime/import-entry.js', import.meta.url).href;

/**
 * The probe's one-file CommonJS bundle beside it (`NAME.bundle.cjs`, scripts/bundle-runtime.mjs),
 * when built: the `--require` entry loads it as one plain script instead of node's require(esm)
 * of the runtime's module graph. The `--import` entry keeps the ES module: it shares the
 * channel module with the probe.
 */
function bundledProbe(url: string): string {
  if (!url.startsWith('file:') || !url.endsWith('.js')) return url;
  const bundle = `${url.slice(0, -3)}.bundle.cjs`;
  return existsSync(fileURLToPath(bundle)) ? bundle : url;
}

/** Options of {@link ChannelHost.open}. */
export interface ChannelHostOptions {
  /** Let every descendant of the program take the channel (e.g. `--children`); default: the program only. */
  tree?: boolean;
  /** The tool's options, given to the probe as `channel.config`. */
  config?: unknown;
}

/** One process of the program that opened the channel. */
export interface ChannelPeer {
  readonly pid: number;
  /**
   * Asks the program to run command `cmd` (a handler it registered with `onCommand`) and
   * resolves to the handler's value; rejects with its error, or when the peer goes away.
   */
  request(cmd: string, args?: unknown): Promise<unknown>;
  /** Resolves when the peer has closed its end (its process ended, usually). */
  readonly closed: Promise<void>;
}

/** Messages kept for the first listener: a probe sends ~10 a second, a few seconds' worth. */
const EARLY_LIMIT = 10_000;

/** A verified channel memtrace offers to the program it starts. */
export class ChannelHost {
  /** Processes that connected with the right token, in the order they did. */
  readonly peers: ChannelPeer[] = [];
  private readonly dir: string;
  private readonly offer: ChannelOffer;
  private messageListeners: Array<(message: ChannelMessage, peer: ChannelPeer) => void> = [];
  /** Messages that came before the first listener (at most EARLY_LIMIT); undefined once it came. */
  private early: Array<[ChannelMessage, ChannelPeer]> | undefined = [];
  private peerListeners: Array<(peer: ChannelPeer) => void> = [];
  private readonly sockets = new Set<Socket>();
  private readonly closing = new Map<Socket, Promise<void>>();

  private constructor(private readonly server: Server, dir: string, offer: ChannelOffer) {
    this.dir = dir;
    this.offer = offer;
  }

  /** Listens on a fresh unix socket in a private temporary directory (mode 0700). */
  static async open(options: ChannelHostOptions = {}): Promise<ChannelHost> {
    const dir = mkdtempSync(join(tmpdir(), 'memtrace-channel-'));
    const path = join(dir, 's');
    const server = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    server.unref();
    const st = statSync(path);
    const offer: ChannelOffer = {
      path, dev: st.dev, ino: st.ino, token: randomBytesSync(24).toString('hex'), ppid: process.pid,
      tree: Boolean(options.tree), config: options.config ?? null, restore: {},
    };
    const host = new ChannelHost(server, dir, offer);
    server.on('connection', (socket) => host.accept(socket));
    return host;
  }

  /**
   * The environment to start the program with: `env` plus the offer (which names the probe,
   * `probeUrl`), and `nodeOptions` (node flags such as `--track-heap-objects`) and the probe's
   * entry appended to NODE_OPTIONS. The entry is `--require` of runtime/preload.cjs, so node runs
   * the main module as untraced (with `--import`, node 20 sends a CommonJS main through its ESM
   * loader): the probe connects synchronously through the runtime addon. Without the addon, a
   * probe that must have its channel before the program's first line is loaded by `--import` of
   * runtime/import-entry.js, which waits for it; `require` says the probe needs no such wait.
   * The probe gives the program back the untraced values of both.
   */
  environment(env: NodeJS.ProcessEnv, probeUrl: string, nodeOptions: string[] = [], how: { require?: boolean } = {}): NodeJS.ProcessEnv {
    const before = env.NODE_OPTIONS;
    const restore: Record<string, string | null> = { NODE_OPTIONS: before ?? null };
    const sync = syncConnectAvailable();
    const byRequire = how.require || sync;
    const offer: ChannelOffer = { ...this.offer, restore, preload: byRequire ? bundledProbe(probeUrl) : probeUrl, sync };
    const load = byRequire ? ['--require', quoteNodeOption(REQUIRE_ENTRY)] : ['--import', quoteNodeOption(IMPORT_ENTRY)];
    const added = [...nodeOptions, ...load].join(' ');
    return { ...env, NODE_OPTIONS: before ? `${before} ${added}` : added, [CHANNEL_ENV]: JSON.stringify(offer) };
  }

  /**
   * Calls `listener` with each message a peer sends (not the answers to requests). The first
   * listener also gets, at once, what peers sent before it was added: a tool starts its
   * sampling thread between the spawn and this call, and a short program can have said
   * everything, its exit included, by then.
   */
  onMessage(listener: (message: ChannelMessage, peer: ChannelPeer) => void): void {
    this.messageListeners.push(listener);
    const early = this.early;
    this.early = undefined;
    for (const [m, peer] of early ?? []) listener(m, peer);
  }

  /** Calls `listener` when a process has connected and given the right token. */
  onPeer(listener: (peer: ChannelPeer) => void): void {
    this.peerListeners.push(listener);
  }

  /**
   * Resolves when every connection has closed, the ones the kernel holds but memtrace has not
   * accepted yet included (call it once the program has exited: its messages are all read then).
   */
  async drained(): Promise<void> {
    // A connection made just before the program exited may still wait in the listen queue:
    // the poll phase accepts it, the check phase comes after.
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    await Promise.all([...this.closing.values()]);
  }

  /** Stops listening, closes every connection and removes the private directory. */
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.unref();
    socket.setEncoding('utf8');
    let peer: (ChannelPeer & { answer(m: ChannelMessage): void; fail(e: Error): void }) | undefined;
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => { closedResolve = r; });
    this.closing.set(socket, closed);
    socket.on('error', () => {});
    socket.on('close', () => {
      this.sockets.delete(socket);
      peer?.fail(new Error('the program closed the channel'));
      closedResolve();
    });
    onJsonLines(socket, (message) => {
      const m = message as ChannelMessage;
      if (!peer) {
        if (!this.tokenMatches(m.token) || typeof m.pid !== 'number') { socket.destroy(); return false; }
        peer = makePeer(socket, m.pid, closed);
        this.peers.push(peer);
        for (const l of this.peerListeners) l(peer);
      } else if ('re' in m) {
        peer.answer(m);
      } else if (this.early) {
        if (this.early.length < EARLY_LIMIT) this.early.push([m, peer]);
      } else {
        for (const l of this.messageListeners) l(m, peer);
      }
      return true;
    });
  }

  private tokenMatches(token: unknown): boolean {
    if (typeof token !== 'string') return false;
    return constantTimeEqual(token, this.offer.token);
  }
}

/** Compares two strings in time that depends on their length only (the token against a guess). */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function makePeer(socket: Socket, pid: number, closed: Promise<void>) {
  let next = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let gone: Error | undefined;
  return {
    pid,
    closed,
    request(cmd: string, args?: unknown): Promise<unknown> {
      if (gone) return Promise.reject(gone);
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        socket.ref(); // an answer is awaited: memtrace stays up for it
        socket.write(`${JSON.stringify({ id, cmd, args: args ?? null })}\n`);
      });
    },
    answer(m: ChannelMessage): void {
      const w = waiting.get(m.re as number);
      if (!w) return;
      waiting.delete(m.re as number);
      if (waiting.size === 0) socket.unref();
      if (m.ok) w.resolve(m.value);
      else w.reject(new Error(String(m.error)));
    },
    fail(e: Error): void {
      gone = e;
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
    },
  };
}

/** Quotes a value for NODE_OPTIONS (which splits on spaces and honours double quotes). */
export function quoteNodeOption(value: string): string {
  return /[\s"\\]/.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : value;
}
