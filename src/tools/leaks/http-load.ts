// A small load generator for `--http`: N requests per iteration to the program's own server, C at
// a time, on loopback only (memtrace never sends traffic off the machine).
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { UsageError } from '../../core/errors.js';

/** A parsed, checked --http target. */
export interface HttpTarget {
  url: URL;
  host: string;
  port: number;
}

/** True for an address in 127.0.0.0/8 or ::1. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return !!m && Number(m[1]) === 127 && m.slice(1).every((x) => Number(x) <= 255);
}

/** Parses --http: an http:// URL on a loopback address (`localhost` is 127.0.0.1); `{n}` in it becomes the request number. */
export function parseHttpTarget(text: string): HttpTarget {
  let url: URL;
  try { url = new URL(text); } catch { throw new UsageError(`--http: '${text}' is not a URL (example: http://127.0.0.1:3000/path?id={n})`); }
  if (url.protocol !== 'http:') throw new UsageError(`--http: '${text}': only http:// URLs (the program's own server on loopback)`);
  const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname.replace(/^\[|\]$/g, '');
  if (!isLoopback(host)) throw new UsageError(`--http: ${url.hostname} is not a loopback address: memtrace sends requests to 127.0.0.0/8 or ::1 only`);
  const port = url.port ? Number(url.port) : 80;
  return { url, host, port };
}

/** Resolves once something accepts TCP connections on the target (polling), or rejects when `stop` says so. */
export async function waitListening(t: HttpTarget, stop: () => string | undefined): Promise<void> {
  for (;;) {
    const why = stop();
    if (why) throw new UsageError(why);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: t.host, port: t.port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends `requests` GETs, `concurrency` at a time, numbering them from `first`; resolves to how many failed. */
export async function sendBurst(t: HttpTarget, first: number, requests: number, concurrency: number, agent: Agent): Promise<number> {
  let next = 0;
  let failed = 0;
  const one = (n: number) => new Promise<void>((resolve) => {
    const path = (t.url.pathname + t.url.search).replace(/%7Bn%7D|\{n\}/g, String(n));
    const req = request({ host: t.host, port: t.port, path, agent, family: t.host.includes(':') ? 6 : 4 }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', () => { failed++; resolve(); });
    });
    req.on('error', () => { failed++; resolve(); });
    req.end();
  });
  const worker = async () => { while (next < requests) await one(first + next++); };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, worker));
  return failed;
}

/** A keep-alive agent for one run. */
export function loadAgent(concurrency: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: concurrency });
}
