// Reads a heap snapshot with memtrace's engine (argv[2]) and computes dominators and
// retained sizes; prints {parseMs, domMs, totalMs, cpuMs, maxRssBytes, nodes, edges} as JSON.
// With argv[3] = "parse", stops after the parse.
import { loadSnapshot } from '../../dist/snapshot/index.js';

const c0 = process.cpuUsage();
const t0 = performance.now();
const g = await loadSnapshot(process.argv[2]);
const t1 = performance.now();
if (process.argv[3] !== 'parse') g.retainedSize(0);
const t2 = performance.now();
const c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({
  parseMs: t1 - t0, domMs: t2 - t1, totalMs: t2 - t0, cpuMs: (c.user + c.system) / 1000,
  maxRssBytes: process.resourceUsage().maxRSS * 1024, nodes: g.nodeCount, edges: g.edgeCount,
  rootRetained: process.argv[3] !== 'parse' ? g.retainedSize(0) : undefined,
}) + '\n');
