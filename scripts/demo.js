// The demo: traces a real program (a small HTTP service with a leaking cache) under
// `memtrace process` ("look for a leak"), writes its HTML report, then runs the same service
// as a server under `memtrace leaks --http`, which finds the cache, and writes that report too.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'examples', 'out');
mkdirSync(outDir, { recursive: true });
const log = join(outDir, 'leaky-server.process.jsonl');
const html = join(outDir, 'leaky-server.process.html');
const cli = join(root, 'dist', 'cli.js');

/** An argument as a shell reads it back: the URL's `&` would otherwise end the command when pasted. */
const shellWord = (a) => (/^[\w@%+=:,./{}-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);

const run = (args, ok = [0]) => {
  console.log(`$ memtrace ${args.map((a) => shellWord(relative(root, a) && a.startsWith(root) ? relative(root, a) : a)).join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', cwd: root });
  if (!ok.includes(r.status)) process.exit(r.status ?? 1);
};
// A free loopback port for the server.
const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
run(['process', '--interval', '50ms', '--output', log, '--', process.execPath, join(root, 'examples', 'leaky-server.js'), '6000']);
run(['report', log, '--format', 'html', '--output', html]);
console.log(`\nreport: ${html}\nlog:    ${log}\n`);

const port = await freePort();
const leaksLog = join(outDir, 'leaky-server.leaks.jsonl');
const leaksHtml = join(outDir, 'leaky-server.leaks.html');
run(['leaks', '--check', '--output', leaksLog, '--http', `http://127.0.0.1:${port}/products?id=1&session={n}`, '--', process.execPath, join(root, 'examples', 'leaky-server.js'), '--serve', String(port)], [0, 1]);
run(['report', leaksLog, '--format', 'html', '--output', leaksHtml]);
console.log(`\nreport: ${leaksHtml}\nlog:    ${leaksLog}`);
