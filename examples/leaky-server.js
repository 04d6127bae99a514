// A small HTTP service with a classic leak: a response cache keyed by the full URL, query string
// included, that is never evicted. It serves itself a bounded burst of requests on 127.0.0.1
// and exits, so it can be traced from start to end. Usage: node examples/leaky-server.js [requests]
// With `--serve PORT` it only serves, on 127.0.0.1:PORT, until stopped (for memtrace leaks --http).
import { createServer, request } from 'node:http';
import { mark } from 'memtrace/mark';

const REQUESTS = Number(process.argv[2] ?? 3000);
const cache = new Map();

function render(path) {
  // A page of ~8 KB, as a template engine would produce.
  const items = Array.from({ length: 100 }, (_, i) => `<li data-i="${i}">${path} item ${i}</li>`);
  return `<html><body><h1>${path}</h1><ul>${items.join('')}</ul></body></html>`;
}

const server = createServer((req, res) => {
  let body = cache.get(req.url);
  if (!body) {
    body = Buffer.from(render(req.url));
    cache.set(req.url, body); // the leak: every distinct ?session= is a new entry, kept forever
  }
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(body);
});

function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

if (process.argv[2] === '--serve') {
  server.listen(Number(process.argv[3] ?? 8080), '127.0.0.1');
} else server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  mark('listening');
  for (let i = 0; i < REQUESTS; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, k) => get(port, `/products?id=${(i + k) % 50}&session=${i + k}`)));
    if (i % 1000 === 0 && i > 0) mark(`${i} requests`);
  }
  mark('burst done');
  server.close();
  // The cache's real size: the pages' bytes (Buffer backing stores) and their keys (one-byte strings).
  let pageBytes = 0, keyBytes = 0;
  for (const [key, page] of cache) { pageBytes += page.byteLength; keyBytes += key.length; }
  console.log(`served ${REQUESTS} requests; cache holds ${cache.size} pages: ${pageBytes} bytes of pages, ${keyBytes} bytes of keys`);
});
