// Builds a JS heap of about MB megabytes (argv[2]) of varied objects (a server's shape: Maps
// of records, strings, arrays, closures, Buffers), then writes a heap snapshot to argv[3].
// Prints {heapUsed, file, writeMs} as JSON.
import { writeHeapSnapshot } from 'node:v8';
import { statSync } from 'node:fs';

const targetMB = Number(process.argv[2] ?? 50);
const out = process.argv[3];
class Session { constructor(id) { this.id = id; this.user = { name: `user-${id}`, roles: ['a', 'b'] }; this.seen = Date.now(); this.tags = new Set([id % 7, id % 11]); } }
class Order { constructor(i, s) { this.i = i; this.session = s; this.lines = [{ sku: `sku-${i % 1000}`, qty: i % 5 }, { sku: `sku-${(i * 7) % 1000}`, qty: 1 }]; this.total = i * 1.5; } }
const sessions = new Map();
const orders = [];
const handlers = [];
const blobs = new Map();
const texts = [];
let i = 0;
while (process.memoryUsage().heapUsed < targetMB * 1024 * 1024) {
  for (let k = 0; k < 1000; k++, i++) {
    const s = new Session(i);
    sessions.set(`sid-${i}`, s);
    orders.push(new Order(i, s));
    if (i % 4 === 0) handlers.push(() => s.seen + i);
    if (i % 10 === 0) texts.push(`log line ${i} ${s.user.name} ${'#'.repeat(i % 50)}`);
    if (i % 100 === 0) blobs.set(i, Buffer.alloc(512, i));
  }
}
globalThis.__keep = { sessions, orders, handlers, blobs, texts };
const heapUsed = process.memoryUsage().heapUsed;
const t0 = performance.now();
writeHeapSnapshot(out);
const writeMs = performance.now() - t0;
process.stdout.write(JSON.stringify({ heapUsed, file: statSync(out).size, writeMs, objects: i }) + '\n');
