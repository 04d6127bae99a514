// An allocation-heavy iteration (render a page, cache it), timed under one of the ways the leaks
// tool could learn allocation sites: none, V8 allocation tracking, the sampling heap profiler.
// Prints {ms} for the measured iterations. Mode from argv[2]: none | tracking | sampling32k | sampling4k.
import { Session } from 'node:inspector';

const mode = process.argv[2];
const s = new Session();
s.connect();
const post = (m, p = {}) => s.post(m, p, () => {});
post('HeapProfiler.enable');
if (mode === 'tracking') post('HeapProfiler.startTrackingHeapObjects', { trackAllocations: true });
if (mode === 'sampling32k') post('HeapProfiler.startSampling', { samplingInterval: 32768 });
if (mode === 'sampling4k') post('HeapProfiler.startSampling', { samplingInterval: 4096 });
const cache = new Map();
let n = 0;
function render(path) {
  const items = Array.from({ length: 100 }, (_, i) => `<li data-i="${i}">${path} item ${i}</li>`);
  return `<html><body><h1>${path}</h1><ul>${items.join('')}</ul></body></html>`;
}
function iteration() {
  for (let i = 0; i < 200; i++) { const k = `/p?s=${n++}`; cache.set(k, Buffer.from(render(k))); if (cache.size > 2000) cache.delete(cache.keys().next().value); }
}
for (let i = 0; i < 5; i++) iteration();
const t0 = performance.now();
for (let i = 0; i < 40; i++) iteration();
const ms = performance.now() - t0;
post('HeapProfiler.stopTrackingHeapObjects');
post('HeapProfiler.disable');
s.disconnect();
process.stdout.write(JSON.stringify({ ms }) + '\n');
