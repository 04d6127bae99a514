// The live blocks of a malloc trace by address, while it is read: an open-addressing hash table
// over typed arrays (linear probing, deletion by backward shift). A Map keyed by addresses above
// 2^31 boxes every key as a heap number; with three of them (size, site, time of allocation)
// the live set was two thirds of the time to read a trace of 17 M events.

/** Live blocks by address: size, call site and time of allocation of each. */
export class BlockTable {
  private keys: Float64Array;
  private sizes: Float64Array;
  private sites: Float64Array;
  private times: Float64Array;
  private mask: number;
  private shift: number;
  /** Blocks in the table. */
  size = 0;

  constructor(capacity = 1 << 16) {
    this.keys = this.sizes = this.sites = this.times = new Float64Array(0);
    this.mask = this.shift = 0;
    this.allocate(2 ** Math.ceil(Math.log2(Math.max(16, capacity))));
  }

  /** Empty arrays of `n` slots (a power of two). */
  private allocate(n: number): void {
    this.keys = new Float64Array(n);
    this.sizes = new Float64Array(n);
    this.sites = new Float64Array(n);
    this.times = new Float64Array(n);
    this.mask = n - 1;
    this.shift = 32 - Math.log2(n);
    this.size = 0;
  }

  // Addresses are 16-byte aligned and below 2^48: fold both halves, then Fibonacci hashing,
  // which takes the product's high bits (its low bits would repeat the address's low bits: every
  // page-aligned block in one slot in 256).
  private home(addr: number): number {
    const lo = addr >>> 4;
    const hi = Math.floor(addr / 4294967296);
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  /** The slot of block `addr` (a positive address), or -1. */
  find(addr: number): number {
    const keys = this.keys, mask = this.mask;
    for (let i = this.home(addr); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === addr) return i;
      if (k === 0) return -1;
    }
  }

  sizeAt(slot: number): number { return this.sizes[slot]!; }
  siteAt(slot: number): number { return this.sites[slot]!; }
  timeAt(slot: number): number { return this.times[slot]!; }

  /** Sets block `addr` (a positive address), replacing what the table held for it. */
  set(addr: number, size: number, site: number, time: number): void {
    if ((this.size + 1) * 4 > (this.mask + 1) * 3) this.grow();
    const keys = this.keys, mask = this.mask;
    let i = this.home(addr);
    while (keys[i] !== 0 && keys[i] !== addr) i = (i + 1) & mask;
    if (keys[i] === 0) { keys[i] = addr; this.size++; }
    this.sizes[i] = size;
    this.sites[i] = site;
    this.times[i] = time;
  }

  /** Removes the block in `slot` (from {@link find}). */
  deleteAt(slot: number): void {
    const keys = this.keys, mask = this.mask;
    let hole = slot;
    // Backward shift: move up each later entry of the run whose home does not lie between the hole and it.
    for (let j = (hole + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const h = this.home(keys[j]!);
      if (((j - h) & mask) >= ((j - hole) & mask)) {
        keys[hole] = keys[j]!;
        this.sizes[hole] = this.sizes[j]!;
        this.sites[hole] = this.sites[j]!;
        this.times[hole] = this.times[j]!;
        hole = j;
      }
    }
    keys[hole] = 0;
    this.size--;
  }

  /** Calls `fn` with every block. */
  forEach(fn: (addr: number, size: number, site: number, time: number) => void): void {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) fn(keys[i]!, this.sizes[i]!, this.sites[i]!, this.times[i]!);
  }

  /** Empties the table. */
  clear(): void {
    this.keys.fill(0);
    this.size = 0;
  }

  private grow(): void {
    const { keys, sizes, sites, times } = this;
    this.allocate(keys.length * 2);
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) this.set(keys[i]!, sizes[i]!, sites[i]!, times[i]!);
  }
}
