// The program `memtrace leaks --scenario file.js` runs (under the leak probe): imports the
// scenario module, runs setup(), then iteration() again and again, marking the end of each,
// then teardown(). A scenario without iteration() is a usage error memtrace reports.
import { pathToFileURL } from 'node:url';
import { mark } from './marks.js';

/** The mark the scenario runner places after each iteration. */
export const SCENARIO_LABEL = 'iteration';

async function main(): Promise<void> {
  const [file, countText] = process.argv.slice(2);
  const count = Number(countText);
  const mod = (await import(pathToFileURL(file!).href)) as Record<string, unknown>;
  const scenario = (mod.iteration === undefined && typeof mod.default === 'object' && mod.default ? mod.default : mod) as Record<string, unknown>;
  if (typeof scenario.iteration !== 'function') {
    process.stderr.write(`memtrace: ${file} exports no iteration() function (a scenario exports setup(), iteration() and optionally teardown())\n`);
    process.exitCode = 2;
    return;
  }
  const call = async (name: string) => { if (typeof scenario[name] === 'function') await (scenario[name] as () => unknown)(); };
  await call('setup');
  for (let i = 0; i < count; i++) {
    await (scenario.iteration as () => unknown)();
    mark(SCENARIO_LABEL);
  }
  await call('teardown');
}

await main();
