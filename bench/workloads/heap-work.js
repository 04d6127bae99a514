// The heap bench workloads; print the time spent working (ms) as JSON on stdout.
//   node heap-work.js accuracy [rounds]  the accuracy fixture's three functions (40 MiB kept,
//                                        4 MiB dropped, 400 KiB kept), repeated
//   node heap-work.js small [count]      small objects that escape (kept in batches of 4096)
//   node heap-work.js buffers [count]    Buffers of 8 KiB from strings (kept in batches of 1024),
//                                        as a server renders pages
import { keepForty, dropFour, keepFourHundred, kept } from '../../test/fixtures/heap/accuracy.js';

const which = process.argv[2] ?? 'accuracy';
const n = Number(process.argv[3] ?? (which === 'small' ? 1000000 : which === 'buffers' ? 50000 : 20));

function smallObjects(count) {
  let batch = [];
  for (let i = 0; i < count; i++) {
    batch.push({ i, name: 'item' + (i & 1023), tags: [i, i + 1] });
    if (batch.length === 4096) batch = [];
  }
  return batch.length;
}

function buffers(count) {
  let batch = [];
  const page = 'x'.repeat(8000);
  for (let i = 0; i < count; i++) {
    batch.push(Buffer.from(page + i));
    if (batch.length === 1024) batch = [];
  }
  return batch.length;
}

const t0 = performance.now();
if (which === 'small') smallObjects(n);
else if (which === 'buffers') buffers(n);
else {
  for (let r = 0; r < n; r++) {
    kept.length = 0;
    keepForty();
    dropFour();
    keepFourHundred();
  }
}
const workMs = performance.now() - t0;
process.stdout.write(JSON.stringify({ workMs }) + '\n');
