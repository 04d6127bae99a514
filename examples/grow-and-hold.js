// A program that grows in steps and holds what it allocated: the demo's subject.
// Each step allocates ~20 MB of JS objects and ~20 MB of Buffers, marks the step, and waits.
import { mark } from 'memtrace/mark';

const STEPS = Number(process.argv[2] ?? 5);
const held = [];

function allocateObjects(mb) {
  const arr = [];
  // ~100 bytes per object with its array slot: 10k objects ≈ 1 MB.
  for (let i = 0; i < mb * 10_000; i++) arr.push({ id: i, name: `item-${i}`, tags: [i % 7, i % 11] });
  return arr;
}

for (let step = 1; step <= STEPS; step++) {
  held.push(allocateObjects(20));
  held.push(Buffer.alloc(20 * 1024 * 1024, step));
  mark(`step ${step}`);
  await new Promise((r) => setTimeout(r, 200));
}
console.log(`held ${held.length} blocks`);
