// The live-block table of the malloc reader against a Map, on random operations over addresses
// of the shapes malloc returns (16-byte aligned, page aligned, above 2^32), growth included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlockTable } from '../dist/tools/malloc/blocks.js';

test('BlockTable holds what a Map holds through sets, overwrites, deletes and growth', () => {
  let seed = 12345;
  const rand = (n) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
  const t = new BlockTable(16);
  const m = new Map();
  const pick = () => {
    const kind = rand(3);
    const base = 0x7f3a00000000;
    return kind === 0 ? base + rand(5000) * 16 : kind === 1 ? base + rand(3000) * 4096 : 0x55d000000000 + rand(2000) * 144;
  };
  for (let i = 0; i < 200_000; i++) {
    const addr = pick();
    const slot = t.find(addr);
    assert.equal(slot >= 0, m.has(addr), `find ${addr.toString(16)} at step ${i}`);
    if (slot >= 0) {
      const [size, site, time] = m.get(addr);
      assert.deepEqual([t.sizeAt(slot), t.siteAt(slot), t.timeAt(slot)], [size, site, time]);
    }
    if (slot >= 0 && rand(2) === 0) { t.deleteAt(slot); m.delete(addr); }
    else { const v = [rand(1 << 20), rand(100) + 2 ** 40 * rand(2), i / 7]; t.set(addr, ...v); m.set(addr, v); }
    assert.equal(t.size, m.size);
  }
  const seen = new Map();
  t.forEach((addr, size, site, time) => seen.set(addr, [size, site, time]));
  assert.deepEqual(seen, m);
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.find(pick()), -1);
});
