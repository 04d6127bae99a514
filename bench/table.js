// Writes the README's tool-characteristics table from bench/results/*.json, between the markers
// <!-- bench:table:start --> and <!-- bench:table:end -->. Never type those figures by hand.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib.js';

const ORDER = ['process', 'calls', 'malloc', 'heap', 'spaces'];
const dir = join(root, 'bench', 'results');
// Only results that carry table rows (an array): others (snapshot, leaks) are raw figures.
const results = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8'))).filter((r) => Array.isArray(r.rows) && r.rows.length > 0);
results.sort((a, b) => (ORDER.indexOf(a.tool) + 1 || 99) - (ORDER.indexOf(b.tool) + 1 || 99));
const cell = (s) => String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
const lines = [
  '| Tool | Memory granularity | Execution granularity | Memory cost | Execution cost |',
  '|---|---|---|---|---|',
];
for (const r of results) {
  for (const row of r.rows) {
    lines.push(`| ${cell(/^`/.test(row.tool) ? row.tool : '`' + row.tool + '`')} | ${cell(row.memoryGranularity)} | ${cell(row.executionGranularity)} | ${cell(row.memoryCost)} | ${cell(row.executionCost)} |`);
  }
}
// A tool's figures have their spread when its bench says so, or its rows print ranges ("x1.18 (x1.16-x2.69)").
const spreadShown = (r) => r.withSpread ?? r.rows.every((row) => /\(x?-?\d+(\.\d+)?\S* ?(-|to) ?x?-?\d/.test(String(row.executionCost)));
const without = results.filter((r) => !spreadShown(r)).map((r) => r.tool);
lines.push('', `<sub>Measured by \`npm run bench\` (${results.map((r) => `${r.tool}: ${r.node}, ${r.date.slice(0, 10)}${r.loadAverage !== undefined ? `, load average ${r.loadAverage}` : ''}`).join('; ')}) on a 2-core VM; ratios are against the untraced run of the same workload in the same run, interleaved; each figure is the median over rounds with its min-max over rounds in brackets${without.length ? ` (${without.join(', ')}: medians only, measured before spreads were recorded)` : ''}. Raw figures: \`bench/results/\`.</sub>`);
const readme = join(root, 'README.md');
const text = readFileSync(readme, 'utf8');
const start = '<!-- bench:table:start -->', end = '<!-- bench:table:end -->';
const a = text.indexOf(start), b = text.indexOf(end);
if (a < 0 || b < a) throw new Error('README.md has no bench table markers');
writeFileSync(readme, text.slice(0, a + start.length) + '\n' + lines.join('\n') + '\n' + text.slice(b));
console.log(`README.md: table of ${results.length} tool(s) written`);
