// Hand-written probe shapes on fib, in one process, interleaved: what each way of asking
// "did memory move?" costs per call. Prints {name: ratio to the bare fib}.
import { openSync, readSync } from 'node:fs';

const N = Number(process.argv[2] ?? 27);
const sab = new SharedArrayBuffer(64);
const F = new Int32Array(sab);
const slow = { c() {}, r() {} };
const last = new Int32Array(2);
const fd = openSync('/proc/self/statm', 'r');
const buf = Buffer.alloc(128);
const statm = () => { readSync(fd, buf, 0, 128, 0); return buf[0]; };

function bare(n) { return n < 2 ? n : bare(n - 1) + bare(n - 2); }
// Flag read, body in try/finally (tells return from throw): async functions and generators.
function flagFinally(n) { if (F[0] !== 0) slow.c(1); let s = 0; try { return (s = 1, n < 2 ? n : flagFinally(n - 1) + flagFinally(n - 2)); } finally { if (F[0] !== 0) slow.r(1, s); } }
// Exit probes at each return, no try (plain functions; their throws are inferred).
function flagReturn(n) { if (F[0] !== 0) slow.c(1); let v; return (v = (n < 2 ? n : flagReturn(n - 1) + flagReturn(n - 2)), F[0] !== 0 && slow.r(1), v); }
// Exit probes at each return and a try/catch that rethrows (sees throws; moves the uncaught exception's printed place).
function flagCatch(n) { if (F[0] !== 0) slow.c(1); let v; try { return (v = (n < 2 ? n : flagCatch(n - 1) + flagCatch(n - 2)), F[0] !== 0 && slow.r(1), v); } catch (e) { if (F[0] !== 0) slow.r(1, 0); throw e; } }
// The try/finally shape plus a depth counter kept by the probes.
function flagCounter(n) { if (F[0] !== 0) slow.c(1); F[8]++; let s = 0; try { return (s = 1, n < 2 ? n : flagCounter(n - 1) + flagCounter(n - 2)); } finally { F[8]--; if (F[0] !== 0) slow.r(1, s); } }
// The probe compares the published RSS with the last written value itself (no flag).
function compareRss(n) { let d = F[1] - last[0]; if (d >= 1 || d <= -1) slow.c(1); try { return n < 2 ? n : compareRss(n - 1) + compareRss(n - 2); } finally { d = F[1] - last[0]; if (d >= 1 || d <= -1) slow.r(1); } }
// Atomics.load instead of a plain read.
function atomics(n) { if (Atomics.load(F, 0) !== 0) slow.c(1); try { return n < 2 ? n : atomics(n - 1) + atomics(n - 2); } finally { if (Atomics.load(F, 0) !== 0) slow.r(1); } }
// Reading /proc/self/statm (kept-open fd) at every probe.
function preadStatm(n) { statm(); try { return n < 2 ? n : preadStatm(n - 1) + preadStatm(n - 2); } finally { statm(); } }
// process.memoryUsage.rss() at every probe.
function memoryUsage(n) { process.memoryUsage.rss(); try { return n < 2 ? n : memoryUsage(n - 1) + memoryUsage(n - 2); } finally { process.memoryUsage.rss(); } }

const fast = { bare, flagFinally, flagReturn, flagCatch, flagCounter, compareRss, atomics };
const slowOnes = { bare, preadStatm, memoryUsage };
function measure(set, n, reps) {
  const times = Object.fromEntries(Object.keys(set).map((k) => [k, []]));
  for (let r = 0; r < reps; r++) {
    for (const [k, f] of Object.entries(set)) { const t = performance.now(); f(n); times[k].push(performance.now() - t); }
  }
  const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
  const base = med(times.bare);
  return Object.fromEntries(Object.keys(set).filter((k) => k !== 'bare').map((k) => [k, med(times[k]) / base]));
}
console.log(JSON.stringify({ ...measure(fast, N, 41), ...measure(slowOnes, 20, 5) }));
