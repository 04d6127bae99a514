// The demo: traces a real program (a small HTTP service with a leaking cache) under
// `memtrace process`, then writes its HTML report and prints where both are.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'examples', 'out');
mkdirSync(outDir, { recursive: true });
const log = join(outDir, 'leaky-server.process.jsonl');
const html = join(outDir, 'leaky-server.process.html');
const cli = join(root, 'dist', 'cli.js');

const run = (args) => {
  console.log(`$ memtrace ${args.map((a) => relative(root, a) && a.startsWith(root) ? relative(root, a) : a).join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run(['process', '--interval', '50ms', '--output', log, '--', process.execPath, join(root, 'examples', 'leaky-server.js'), '6000']);
run(['report', log, '--format', 'html', '--output', html]);
console.log(`\nreport: ${html}\nlog:    ${log}`);
