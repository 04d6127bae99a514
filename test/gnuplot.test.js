// Every tool's `report --format gnuplot` output, drawn by the real gnuplot: the script runs
// without an error and the PNG holds data (colours other than the background, grid and text).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { memtrace, root, tmp } from './helpers.js';

const gnuplot = spawnSync('gnuplot', ['--version'], { encoding: 'utf8' });
const noGnuplot = gnuplot.status === 0 ? false : 'gnuplot is not installed (apt-get install gnuplot-nox)';

/** Decodes a non-interlaced 8-bit PNG (grey, RGB, palette, grey+alpha, RGBA) into [r, g, b] pixels. */
export function decodePng(buf) {
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'not a PNG');
  let off = 8, width = 0, height = 0, depth = 0, type = 0, interlace = 0, palette = null;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off), kind = buf.toString('latin1', off + 4, off + 8), data = buf.subarray(off + 8, off + 8 + len);
    if (kind === 'IHDR') { width = data.readUInt32BE(0); height = data.readUInt32BE(4); depth = data[8]; type = data[9]; interlace = data[12]; }
    else if (kind === 'PLTE') palette = data;
    else if (kind === 'IDAT') idat.push(data);
    else if (kind === 'IEND') break;
    off += 12 + len;
  }
  assert.equal(interlace, 0, 'interlaced PNG');
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[type];
  const bitsPerPixel = channels * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const raw = inflateSync(Buffer.concat(idat));
  const rows = [];
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? line[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      line[i] = (line[i] + pred) & 255;
    }
    rows.push(line);
    prev = line;
  }
  const pixels = [];
  for (const line of rows) {
    for (let x = 0; x < width; x++) {
      if (type === 3) {
        const bit = x * depth, idx = (line[bit >> 3] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
        pixels.push([palette[idx * 3], palette[idx * 3 + 1], palette[idx * 3 + 2]]);
      } else if (type === 0 || type === 4) pixels.push([line[x * bpp], line[x * bpp], line[x * bpp]]);
      else pixels.push([line[x * bpp], line[x * bpp + 1], line[x * bpp + 2]]);
    }
  }
  return { width, height, pixels };
}

/** Pixels per colour that is not a grey (background, grid, axes, text) nor the marks' red. */
function dataColours(png) {
  const counts = new Map();
  for (const [r, g, b] of png.pixels) {
    if (r === g && g === b) continue;
    if (r === 0xc0 && g === 0x39 && b === 0x2b) continue;
    const k = (r << 16) | (g << 8) | b;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

function plot(dir, log) {
  const dat = join(dir, 'out.dat');
  const r = memtrace(['report', log, '--format', 'gnuplot', '-o', dat]);
  assert.equal(r.status, 0, r.stderr);
  const g = spawnSync('gnuplot', ['out.plt'], { cwd: dir, encoding: 'utf8' });
  assert.equal(g.status, 0, `gnuplot: ${g.stderr}`);
  // gnuplot notes a flat series ("empty y range"); anything else on stderr is an error.
  assert.equal(g.stderr.split('\n').filter((l) => l && !/^Warning: empty [xy] range/.test(l)).join('\n'), '', 'gnuplot stderr');
  const png = decodePng(readFileSync(join(dir, 'out.png')));
  const colours = dataColours(png);
  const drawn = [...colours.values()].filter((n) => n >= 200);
  return { png, colours, drawn };
}

const cases = {
  process: (dir) => ['process', '-i', '20ms', '--no-summary', '-o', join(dir, 'x.jsonl'), '--', process.execPath, 'test/fixtures/process/steps.js'],
  spaces: (dir) => ['spaces', '-q', '--interval', '50ms', '-o', join(dir, 'x.jsonl'), '--', process.execPath, 'test/fixtures/spaces/build.js'],
  heap: (dir) => ['heap', '-o', join(dir, 'x.jsonl'), '--', process.execPath, 'test/fixtures/heap/accuracy.js'],
  calls: (dir) => ['calls', '-o', join(dir, 'x.jsonl'), '--', process.execPath, 'test/fixtures/calls/grow.js'],
  malloc: (dir) => ['malloc', '-o', join(dir, 'x.bin'), '--', process.execPath, 'test/fixtures/malloc/buffers.js'],
};

for (const [tool, args] of Object.entries(cases)) {
  const noInterposer = tool === 'malloc' && !existsSync(join(root, 'native', 'build', 'libmemtrace-malloc.so')) && 'the malloc interposer is not built (make -C native)';
  test(`gnuplot draws the ${tool} report: no error, data on the PNG`, { skip: noGnuplot || noInterposer }, () => {
    const dir = tmp();
    const r = memtrace(args(dir));
    assert.ok(r.status === 0 || r.status === 3, `${tool}: ${r.stderr}`);
    const log = join(dir, tool === 'malloc' ? 'x.bin' : 'x.jsonl');
    const { png, drawn } = plot(dir, log);
    assert.ok(png.width >= 800 && png.height >= 300, `${png.width}x${png.height}`);
    // A series drawn is hundreds of pixels of its colour; the blank PNGs had none.
    assert.ok(drawn.length >= 1, `${tool}: no data drawn on the PNG`);
  });
}

test('the PNG check can fail: a plot of no data has no data colours', { skip: noGnuplot }, () => {
  const dir = tmp();
  writeFileSync(join(dir, 'e.plt'), 'set terminal png size 900,400\nset output "e.png"\nset grid\nset xrange [0:1]\nset yrange [0:1]\nplot 2 title ""\n');
  const g = spawnSync('gnuplot', ['e.plt'], { cwd: dir, encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const colours = dataColours(decodePng(readFileSync(join(dir, 'e.png'))));
  assert.equal([...colours.values()].filter((n) => n >= 200).length, 0);
});
