import { fs } from './node-fs.js';
const { closeSync, openSync, readSync } = fs;

/** Reads up to `len` bytes at `pos` of an open file (fewer at its end). */
export function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n <= 0) break;
    got += n;
  }
  return got === len ? b : b.subarray(0, got);
}

/**
 * `n` random bytes from the kernel (/dev/urandom): what `crypto.randomBytes` gives, without
 * loading node:crypto, which adds ~10 ms to the CLI's start on node 24.
 */
export function randomBytesSync(n: number): Buffer {
  const fd = openSync('/dev/urandom', 'r');
  try {
    const b = readAt(fd, 0, n);
    if (b.length !== n) throw new Error('/dev/urandom gave too few bytes');
    return b;
  } finally {
    closeSync(fd);
  }
}
