// A 128-bit content hash for cache keys, in plain JS. node:crypto would do it natively, but
// loading it in a traced program initialises OpenSSL: +3.6 MiB of the program's RSS on node 24,
// most of what `calls` added to it. This is MurmurHash3 x86_128's block mix and finalisation
// over 32-bit words of UTF-16 code units (two per word, the key's length mixed in): not a
// cryptographic hash, so a crafted collision is possible, but a cache key it is given is made
// of files the user can already change (no one gains by colliding them).

const C1 = 0x239b961b, C2 = 0xab0e9789, C3 = 0x38b34ae5, C4 = 0xa1e38b93;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A streaming 128-bit hash of strings (their UTF-16 code units), as 32 hex digits. */
export class Hash128 {
  private h1 = 0x9368e53c;
  private h2 = 0x2f6af274;
  private h3 = 0x7b98e131;
  private h4 = 0x5a0c9d88;
  /** Words added (padding of the last block left out: it is what tells "abc" from "abc" + ""). */
  private words = 0;
  private readonly buf = new Int32Array(4);
  private filled = 0;

  /** Adds a string, framed by its length ("ab" + "c" and "a" + "bc" differ). */
  update(s: string): this {
    const n = s.length;
    let i = 0;
    while (this.filled !== 0 && i + 1 < n) { this.word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)); i += 2; }
    if (this.filled === 0) {
      for (; i + 8 <= n; i += 8) {
        this.words += 4;
        this.block(
          s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16), s.charCodeAt(i + 2) | (s.charCodeAt(i + 3) << 16),
          s.charCodeAt(i + 4) | (s.charCodeAt(i + 5) << 16), s.charCodeAt(i + 6) | (s.charCodeAt(i + 7) << 16),
        );
      }
    }
    for (; i + 1 < n; i += 2) this.word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
    if (i < n) this.word(s.charCodeAt(i) | 0x10000);
    this.word(n);
    return this;
  }

  /** The hash of everything added, as 32 hex digits. */
  digest(): string {
    const len = this.words;
    while (this.filled !== 0) this.word(0);
    let h1 = this.h1 ^ len, h2 = this.h2 ^ len, h3 = this.h3 ^ len, h4 = this.h4 ^ len;
    h1 = (h1 + h2 + h3 + h4) | 0; h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;
    h1 = fmix(h1); h2 = fmix(h2); h3 = fmix(h3); h4 = fmix(h4);
    h1 = (h1 + h2 + h3 + h4) | 0; h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;
    return [h1, h2, h3, h4].map((h) => (h >>> 0).toString(16).padStart(8, '0')).join('');
  }

  private word(k: number): void {
    const b = this.buf;
    this.words++;
    b[this.filled++] = k;
    if (this.filled === 4) { this.filled = 0; this.block(b[0]!, b[1]!, b[2]!, b[3]!); }
  }

  private block(k1: number, k2: number, k3: number, k4: number): void {
    let { h1, h2, h3, h4 } = this;
    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2); h1 ^= k1;
    h1 = rotl(h1, 19); h1 = (h1 + h2) | 0; h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3); h2 ^= k2;
    h2 = rotl(h2, 17); h2 = (h2 + h3) | 0; h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4); h3 ^= k3;
    h3 = rotl(h3, 15); h3 = (h3 + h4) | 0; h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1); h4 ^= k4;
    h4 = rotl(h4, 13); h4 = (h4 + h1) | 0; h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
    this.h1 = h1; this.h2 = h2; this.h3 = h3; this.h4 = h4;
  }
}
