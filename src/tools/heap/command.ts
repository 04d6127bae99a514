// `memtrace heap [options] -- node app.js`: runs the program with the heap profiler preloaded,
// then turns what it wrote at exit into the log, a .heapprofile, and the top sites.
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { UsageError, fileError } from '../../core/errors.js';
import { LogWriter, defaultLogName, makeHeader, readLog } from '../../core/log.js';
import { ChannelHost } from '../../core/channel-host.js';
import { spawnTraced } from '../../core/spawn.js';
import { formatBytes, parseBytes } from '../../core/units.js';
import { heapRecords } from './heaplog.js';
import type { SamplingProfile } from '../../runtime/heap-inspector.js';
import type { PreloadConfig, PreloadMeta } from '../../runtime/heap-preload.js';
import { FrameTable, chargedFrame, readSamplingProfile, type GroupBy, type HeapData } from './profile.js';
import { buildReport } from './report.js';
import { loadSnapshot, SnapshotFormatError } from '../../snapshot/index.js';
import { classTable, readTrackedSnapshot, type ClassRow } from './snapshot.js';

const PRELOAD = join(dirname(fileURLToPath(import.meta.url)), '../../runtime/heap-preload.js');

interface HeapCommandOptions {
  interval: string;
  exact?: boolean;
  all?: boolean;
  top: string;
  by: GroupBy;
  expand?: boolean;
  output?: string;
  sourceMaps: boolean;
}

/** Parses --interval: a size of at least 1 byte. */
export function parseSamplingInterval(text: string): number {
  const n = parseBytes(text, '--interval');
  if (n < 1) throw new UsageError(`--interval: '${text}' must be at least 1 byte (V8's default is 32k)`);
  return n;
}

/** Moves a file (copying when it is on another file system). */
function renameOrCopy(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch {
    try { copyFileSync(from, to); rmSync(from, { force: true }); } catch (err) { throw fileError(err, 'write', to); }
  }
}

function stemOf(path: string): string {
  return join(dirname(path), basename(path, extname(path)));
}

/** Adds `memtrace heap` to the CLI. */
export function register(program: Command): void {
  program
    .command('heap')
    .description('the JS heap by line: V8\'s sampling heap profiler over a whole run (live objects at exit; --all everything allocated; --exact every object)')
    .argument('<command...>', 'the program to run, after --')
    .option('-i, --interval <bytes>', 'mean bytes between samples', '32k')
    .option('--exact', 'every object with its allocation stack (allocation tracking + a heap snapshot at exit): exact, live and allocated; slower')
    .option('-a, --all', 'keep objects the GC collected: report everything allocated, not only what is live at exit')
    .option('-t, --top <n>', 'rows in the top table', '20')
    .addOption(new Option('-b, --by <what>', 'group by the allocating line, by function (inclusive), or by whole stack').choices(['line', 'function', 'stack']).default('line'))
    .option('--expand', 'show functions inside node_modules and node internals one by one (default: one row per package)')
    .option('--no-source-maps', 'report positions in the generated .js files')
    .option('-o, --output <file>', 'the log (default memtrace-heap-DATE-PID.jsonl here); the profile goes beside it')
    .passThroughOptions()
    .action(async (command: string[], opts: HeapCommandOptions) => {
      const intervalBytes = parseSamplingInterval(opts.interval);
      const top = Number(opts.top);
      if (!Number.isInteger(top) || top <= 0) throw new UsageError(`--top: '${opts.top}' must be a whole number above zero`);
      if (opts.exact && opts.all) process.stderr.write('memtrace: note: --exact reports live and allocated bytes already; --all adds nothing\n');
      const logPath = resolve(opts.output ?? defaultLogName('heap', process.pid));
      try { writeFileSync(logPath, ''); } catch (err) { throw fileError(err, 'write log', logPath); }
      const stem = stemOf(logPath);
      const exact = !!opts.exact;
      const config: PreloadConfig = {
        dir: mkdtempSync(join(tmpdir(), 'memtrace-heap-')),
        intervalBytes,
        all: !!opts.all && !exact,
        exact,
      };
      // Every node process of the tree takes the preload (npx, npm, tsx start the program as a
      // child); the program is found among them below.
      const channel = await ChannelHost.open({ tree: true, config });
      const env = channel.environment(process.env, pathToFileURL(PRELOAD).href, exact ? ['--track-heap-objects'] : []);
      let traced;
      try {
        traced = await spawnTraced(command, { env });
      } catch (err) {
        channel.close();
        rmSync(config.dir, { recursive: true, force: true });
        rmSync(logPath, { force: true });
        throw err;
      }
      const exit = await traced.exited;
      channel.close();
      process.exitCode = exit.exitCode;

      const metas = readdirSync(config.dir).filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(config.dir, f), 'utf8')) as PreloadMeta);
      if (metas.length === 0) {
        rmSync(config.dir, { recursive: true, force: true });
        rmSync(logPath, { force: true });
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
        process.stderr.write(`memtrace: the program ${how} before the heap profiler attached (or before it could write at exit): no profile. ` +
          `memtrace heap traces node programs (it preloads itself with NODE_OPTIONS), and cannot write after SIGKILL.\n`);
        return;
      }
      // Read every node process of the tree; the program is the one whose own code (not
      // packages, node internals or memtrace) holds the most bytes: npx, npm and tsx wrappers
      // start it as a child.
      const read = [];
      for (const meta of metas) read.push(await (async () => {
        if (meta.error) throw new UsageError(`the heap profiler failed in process ${meta.pid} at exit: ${meta.error}`);
        const table = new FrameTable({ sourceMaps: opts.sourceMaps, inlineMaps: meta.inlineMaps });
        let data: HeapData;
        let objects: ClassRow[] | undefined;
        if (exact) {
          const size = statSync(meta.profile).size;
          const progress = process.stderr.isTTY && size > 50 * 1024 * 1024;
          const say = (what: string) => process.stderr.write(`\r\x1b[Kmemtrace: ${what} the heap snapshot of PID ${meta.pid} (${formatBytes(size)})…`);
          const graph = await loadSnapshot(meta.profile, {
            onProgress: progress ? (p) => say(p.phase === 'parse' ? `reading ${Math.round((100 * p.done) / p.total)}% of` : 'computing retained sizes in') : undefined,
          }).catch((e: unknown) => { throw e instanceof SnapshotFormatError ? new UsageError(`${meta.profile}: ${e.message}`) : e; });
          data = readTrackedSnapshot(graph, table);
          objects = classTable(graph);
          if (progress) process.stderr.write('\r\x1b[K');
        } else {
          data = readSamplingProfile(JSON.parse(readFileSync(meta.profile, 'utf8')) as SamplingProfile, config.all, table);
        }
        let own = 0;
        for (const row of data.stacks) {
          const c = chargedFrame(data.frames, row.frames);
          if (!c.tool && c.index >= 0 && data.frames[row.frames[c.index]!]!.kind === 'user') own += row.live + row.alloc;
        }
        return { meta, data, objects, own };
      })());
      read.sort((a, b) => b.own - a.own || Number(b.meta.pid === traced.pid) - Number(a.meta.pid === traced.pid));
      const { meta, data, objects } = read[0]!;
      const ext = exact ? 'heapsnapshot' : 'heapprofile';
      const profilePath = `${stem}.${ext}`;
      renameOrCopy(meta.profile, profilePath);
      const others: Array<{ pid: number; argv: string[]; profile: string }> = [];
      for (const o of read.slice(1)) {
        const p = `${stem}.${o.meta.pid}.${ext}`;
        renameOrCopy(o.meta.profile, p);
        others.push({ pid: o.meta.pid, argv: o.meta.argv, profile: p });
      }
      rmSync(config.dir, { recursive: true, force: true });
      const header = makeHeader('heap', {
        pid: meta.pid, command, interval_bytes: intervalBytes, mode: exact ? 'exact' : 'sampled',
        all: config.all, by: opts.by, expand: !!opts.expand, top, cwd: meta.cwd, argv: meta.argv,
        ...(others.length ? { other_processes: others } : {}),
      });
      const writer = new LogWriter(logPath, header, 0);
      for (const r of heapRecords(data, {
        t: meta.durationMs, reason: meta.reason, exitCode: meta.exitCode, durationMs: meta.durationMs,
        writeMs: meta.writeMs, memoryUsage: meta.memoryUsage, profile: profilePath,
      })) writer.write(r);
      if (objects) writer.write({ t: meta.durationMs, ev: 'objects', counts: objects });
      writer.close();
      if (writer.error) throw writer.error;
      const report = buildReport(await readLog(logPath), { top, by: opts.by, expand: !!opts.expand });
      process.stderr.write(`${report.text}\n`);
      if (others.length) {
        process.stderr.write(`memtrace: ${read.length} node processes ran; this is PID ${meta.pid} (${meta.argv.slice(1).join(' ')}); the others' profiles: ${others.map((o) => o.profile).join(', ')}\n`);
      }
      process.stderr.write(`memtrace: log ${logPath}\nmemtrace: ${exact ? 'heap snapshot' : 'profile'} ${profilePath} (open in Chrome DevTools, Memory tab)\n`);
    });
}
