// npm run bench: runs every bench/<tool>.js (found by convention), then regenerates the README's
// tool-characteristics table from bench/results/*.json. BENCH_ONLY=process,calls runs a subset.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib.js';

const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const benches = readdirSync(join(root, 'bench'))
  // snapshot.js is run by leaks.js, whose row carries its figures.
  .filter((f) => f.endsWith('.js') && !['run.js', 'table.js', 'lib.js', 'snapshot.js'].includes(f))
  .filter((f) => !only || only.includes(f.replace(/\.js$/, '')))
  .sort();
let failed = 0;
for (const b of benches) {
  console.log(`\n== bench/${b}`);
  const r = spawnSync(process.execPath, [join(root, 'bench', b)], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) { failed++; console.log(`bench/${b} failed (${r.status ?? r.signal})`); }
}
const t = spawnSync(process.execPath, [join(root, 'bench', 'table.js')], { stdio: 'inherit', cwd: root });
process.exitCode = failed || t.status ? 1 : 0;
