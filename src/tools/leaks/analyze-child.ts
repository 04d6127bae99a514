// A process of its own for the library's analysis (findLeaks): the snapshots are read here,
// not in the process that took them. Input: a JSON file named by argv[2]; output: the verdict as JSON on stdout.
import { readFileSync } from 'node:fs';
import { analyzeSnapshots, type AnalyzeOptions } from './analyze.js';

const { paths, ...opts } = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as AnalyzeOptions & { paths: string[] };
try {
  process.stdout.write(JSON.stringify(await analyzeSnapshots(paths, opts)));
} catch (err) {
  process.stderr.write(`memtrace: ${(err as Error).message}\n`);
  process.exitCode = 2;
}
