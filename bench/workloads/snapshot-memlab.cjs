// Reads a heap snapshot with memlab (installed in MEMLAB_DIR by bench/snapshot.js): its
// parser (utils.getSnapshotFromFile, as getFullHeapFromFile does) and its retained sizes
// (TraceFinder.calculateAllNodesRetainedSizes). Prints the same JSON as snapshot-read.js.
const { join } = require('node:path');
const { utils, TraceFinder, config } = require(join(process.env.MEMLAB_DIR, 'node_modules', '@memlab', 'core'));

(async () => {
  config.muteConsole = true;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const snap = await utils.getSnapshotFromFile(process.argv[2], { buildNodeIdIndex: true });
  const t1 = performance.now();
  if (process.argv[3] !== 'parse') new TraceFinder().calculateAllNodesRetainedSizes(snap);
  const t2 = performance.now();
  const c = process.cpuUsage(c0);
  let rootRetained;
  if (process.argv[3] !== 'parse') rootRetained = snap.nodes.get(0).retainedSize;
  process.stdout.write(JSON.stringify({
    parseMs: t1 - t0, domMs: t2 - t1, totalMs: t2 - t0, cpuMs: (c.user + c.system) / 1000,
    maxRssBytes: process.resourceUsage().maxRSS * 1024, nodes: snap.nodes.length, edges: snap.edges.length, rootRetained,
  }) + '\n');
})().catch((e) => { console.error(e); process.exit(1); });
