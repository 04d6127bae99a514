// One bench process: runs a workload `reps` times and prints the median time of one run (ms),
// its result's hash and the process's peak RSS. Run untraced and under `--import memtrace/calls`.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [name, repsArg] = process.argv.slice(2);
const reps = Number(repsArg ?? 15);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function files(dir, test, out = []) {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) files(p, test, out);
    else if (test(n)) out.push(p);
  }
  return out;
}

let work;
if (name === 'fib') {
  const { fib } = await import('./fib.mjs');
  work = () => String(fib(27));
} else if (name === 'marked') {
  // A large real document (every Markdown file the installed packages ship, ~0.5 MB), rendered whole.
  const { marked } = await import('marked');
  const doc = files(join(root, 'node_modules'), (n) => n.endsWith('.md')).map((p) => readFileSync(p, 'utf8')).join('\n\n');
  work = () => marked.parse(doc);
} else if (name === 'yaml') {
  // Parse and re-stringify every package.json as YAML, then the whole set as one YAML document.
  const YAML = await import('yaml');
  const pkgs = files(join(root, 'node_modules'), (n) => n === 'package.json').map((p) => readFileSync(p, 'utf8'));
  work = () => { const all = pkgs.map((p) => YAML.parse(p)); return YAML.stringify(YAML.parse(YAML.stringify(all))); };
} else if (name === 'json') {
  // The application's own code over a JSON document: parse, reshape every package record, index, stringify.
  const { transform } = await import('./transform.mjs');
  const text = JSON.stringify(files(join(root, 'node_modules'), (n) => n === 'package.json').map((p) => JSON.parse(readFileSync(p, 'utf8'))));
  work = () => transform(text);
} else {
  throw new Error(`unknown workload ${name}`);
}
const times = [];
let out = '';
for (let i = 0; i < reps; i++) {
  const t = performance.now();
  out = work();
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({
  ms: times[times.length >> 1],
  hash: createHash('sha256').update(out).digest('hex').slice(0, 16),
  maxRss: process.resourceUsage().maxRSS * 1024,
}));
