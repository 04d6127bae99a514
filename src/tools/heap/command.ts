// `memtrace heap [options] -- node app.js`: runs the program with the heap profiler preloaded,
// then turns what it wrote at exit into the log, a .heapprofile, and the top sites.
import { copyFileSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { UsageError, afterRun, fileError, isUsageError, noCommandError } from '../../core/errors.js';
import { checkOutput, checkOutputDir, makeTempDir } from '../../core/output.js';
import { LogWriter, defaultLogName, makeHeader } from '../../core/log.js';
import { ChannelHost } from '../../core/channel-host.js';
import { spawnTraced } from '../../core/spawn.js';
import { formatBytes, parseBytes, parseDuration } from '../../core/units.js';
import type { SamplingProfile } from '../../runtime/heap-inspector.js';
import type { At, Moment } from '../../runtime/heap-moments.js';
import type { PreloadConfig, PreloadMeta } from '../../runtime/heap-preload.js';
import type { FrameTable, GroupBy, HeapData } from './profile.js';
import type { ClassRow } from './snapshot.js';
import { helpExamples } from '../../core/help.js';

/**
 * What reads the program's profiles, loaded while the program runs: source maps, the report
 * and the snapshot engine (tens of ms to load) need not delay its start.
 */
function loadReaders() {
  return Promise.all([import('./profile.js'), import('./report.js'), import('./snapshot.js'), import('./heaplog.js'), import('../../snapshot/index.js')])
    .then(([profile, report, snapshot, heaplog, engine]) => ({ ...profile, ...report, ...snapshot, ...heaplog, loadSnapshot: engine.loadSnapshot, SnapshotFormatError: engine.SnapshotFormatError }));
}
type Readers = Awaited<ReturnType<typeof loadReaders>>;

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
  at: string;
  every?: string;
  external: boolean;
}

/** Parses --at: exit, peak, signal or mark:NAME. */
export function parseAt(text: string): { at: At; mark?: string } {
  if (text === 'exit' || text === 'peak' || text === 'signal') return { at: text };
  if (text.startsWith('mark:') && text.length > 5) return { at: 'mark', mark: text.slice(5) };
  throw new UsageError(`--at: '${text}' is not a moment: exit, peak, signal or mark:NAME`);
}

/** The moment a process's report shows, and a note when the one asked for never came. */
function chooseMoment(moments: Moment[], at: At, mark: string | undefined): { moment: Moment; note?: string } {
  const exit = moments[moments.length - 1]!;
  if (at === 'exit') return { moment: exit };
  const found = moments.filter((m) => m.kind === at).pop();
  if (found) return { moment: found };
  const what = at === 'mark' ? `no mark('${mark}') was placed` : at === 'signal' ? 'no SIGUSR2, SIGINT, SIGTERM or SIGHUP arrived' : 'no peak was read';
  return { moment: exit, note: `--at ${at === 'mark' ? `mark:${mark}` : at}: ${what}; this is the profile at the end` };
}

/** A profile of one moment read into `table` (source maps, scripts), with its external bytes. */
function readMoment(r: Readers, m: Moment, all: boolean, table: FrameTable): HeapData {
  const data = r.readSamplingProfile(JSON.parse(readFileSync(m.profile, 'utf8')) as SamplingProfile, all, table);
  if (m.external) r.addExternal(data, m.external, table);
  return data;
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
    .addHelpText('after', helpExamples([
      ['memtrace heap -- node app.js', 'live JS heap at exit, by line'],
      ['memtrace heap --all --by function -- node app.js', 'everything allocated, by function'],
      ['memtrace heap --at peak -- node server.js', 'live JS heap and Buffers when highest'],
      ['memtrace heap --every 10s -- node server.js', 'a series of profiles: what grows'],
      ['memtrace heap --exact -o heap.jsonl -- node app.js', 'every object (slower)'],
      ['memtrace report heap.jsonl --format speedscope', 'stacks for speedscope.app'],
    ]))
    .description('the JS heap by line: V8\'s sampling heap profiler over a whole run (live objects at exit, or --at peak, mark:NAME, signal; --all everything allocated; --exact every object), with Buffers\' external bytes')
    .argument('[command...]', 'the program to run, after --')
    .option('-i, --interval <bytes>', 'mean bytes between samples', '32k')
    .option('--exact', 'every object with its allocation stack (allocation tracking + a heap snapshot at exit): exact, live and allocated; slower')
    .option('-a, --all', 'keep objects the GC collected: report everything allocated, not only what is live at exit')
    .option('-t, --top <n>', 'rows in the top table', '20')
    .addOption(new Option('-b, --by <what>', 'group by the allocating line, by function (inclusive), or by whole stack').choices(['line', 'function', 'stack']).default('line'))
    .option('--expand', 'show functions inside node_modules and node internals one by one (default: one row per package)')
    .option('--at <moment>', 'which profile to show: exit (live at the end), peak (when the live JS heap plus external memory was highest), mark:NAME (live at mark(\'NAME\')), signal (live at SIGUSR2, or at the SIGINT/SIGTERM that stops a server)', 'exit')
    .option('--every <duration>', 'also read a profile every so often (10s, 500ms): a series of what grows')
    .option('--no-external', 'do not sample the bytes and stacks of Buffers (external memory)')
    .option('--no-source-maps', 'report positions in the generated .js files')
    .option('-o, --output <file>', 'the log (default memtrace-heap-DATE-TIME-PID.jsonl here); the profile goes beside it')
    .passThroughOptions()
    .action(async (command: string[], opts: HeapCommandOptions) => {
      const intervalBytes = parseSamplingInterval(opts.interval);
      const top = Number(opts.top);
      if (!Number.isInteger(top) || top <= 0) throw new UsageError(`--top: '${opts.top}' must be a whole number above zero`);
      if (opts.exact && opts.all) process.stderr.write('memtrace: note: --exact reports live and allocated bytes already; --all adds nothing\n');
      if (command.length === 0) throw noCommandError('heap');
      // Checked before the run and left as it is: the log is written once, at the end.
      const target = opts.output !== undefined ? checkOutput(opts.output) : (checkOutputDir(process.cwd()), undefined);
      const logPath = resolve(opts.output ?? defaultLogName('heap', process.pid));
      // Beside a device or a FIFO there is no place for the profile: it stays out.
      const sidecars = target?.regular ?? true;
      const stem = stemOf(logPath);
      const exact = !!opts.exact;
      const { at, mark } = parseAt(opts.at);
      const everyMs = opts.every === undefined ? undefined : parseDuration(opts.every, '--every');
      if (everyMs !== undefined && !(everyMs >= 1)) throw new UsageError(`--every: '${opts.every}' must be at least 1 ms`);
      if (exact && (at !== 'exit' || everyMs !== undefined)) throw new UsageError('--at and --every read the sampling profiler during the run; --exact reads one snapshot at exit');
      const config: PreloadConfig = {
        dir: makeTempDir('memtrace-heap-'),
        intervalBytes,
        all: !!opts.all && !exact,
        exact,
        at, mark, everyMs,
        external: opts.external && !exact,
        reader: process.pid,
      };
      // Every node process of the tree takes the preload (npx, npm, tsx start the program as a
      // child); the program is found among them below.
      const channel = await ChannelHost.open({ tree: true, config });
      const env = channel.environment(process.env, pathToFileURL(PRELOAD).href, exact ? ['--track-heap-objects'] : [], { require: true });
      let traced;
      try {
        traced = await spawnTraced(command, { env });
      } catch (err) {
        channel.close();
        rmSync(config.dir, { recursive: true, force: true });
        throw err;
      }
      const readers = loadReaders();
      const exit = await traced.exited;
      channel.close();
      const r = await readers;
      const { FrameTable, chargedFrame, readTrackedSnapshot, classTable, heapRecords, buildReport, loadSnapshot, SnapshotFormatError } = r;
      process.exitCode = exit.exitCode;
      let kept = false;
      process.exitCode = await afterRun(exit.exitCode, async () => {
        try {
          const metas = readdirSync(config.dir).filter((f) => f.endsWith('.json'))
            .map((f) => JSON.parse(readFileSync(join(config.dir, f), 'utf8')) as PreloadMeta);
          if (metas.length === 0) {
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
            let moment: Moment | undefined;
            let momentNote: string | undefined;
            const series: Array<{ moment: Moment; data: HeapData }> = [];
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
              const moments = meta.moments ?? [];
              ({ moment, note: momentNote } = chooseMoment(moments, at, mark));
              data = readMoment(r, moment, config.all, table);
              for (const m of moments) if (m.kind === 'every') series.push({ moment: m, data: readMoment(r, m, config.all, table) });
              // The series ends with the moment shown, so its last point is the table.
              if (series.length) series.push({ moment, data });
              data.frames = table.frames;
            }
            let own = 0;
            for (const row of data.stacks) {
              const c = chargedFrame(data.frames, row.frames);
              if (!c.tool && c.index >= 0 && data.frames[row.frames[c.index]!]!.kind === 'user') own += row.live + row.alloc;
            }
            return { meta, data, objects, own, moment, momentNote, series };
          })());
          read.sort((a, b) => b.own - a.own || Number(b.meta.pid === traced.pid) - Number(a.meta.pid === traced.pid));
          const { meta, data, objects, moment, momentNote, series } = read[0]!;
          const ext = exact ? 'heapsnapshot' : 'heapprofile';
          const profilePath = sidecars ? `${stem}.${ext}` : null;
          const others: Array<{ pid: number; argv: string[]; profile: string | null }> = [];
          if (profilePath) {
            // On failure (a full disk) the profiles stay where they are, and the message says where.
            kept = true;
            renameOrCopy(moment?.profile ?? meta.profile, profilePath);
            for (const o of read.slice(1)) {
              const p = `${stem}.${o.meta.pid}.${ext}`;
              renameOrCopy(o.moment?.profile ?? o.meta.profile, p);
              others.push({ pid: o.meta.pid, argv: o.meta.argv, profile: p });
            }
            kept = false;
          } else {
            for (const o of read.slice(1)) others.push({ pid: o.meta.pid, argv: o.meta.argv, profile: null });
            process.stderr.write(`memtrace: note: ${logPath} is not a regular file: no .${ext} is written beside it (give -o a file to keep it)\n`);
          }
          const header = makeHeader('heap', {
            pid: meta.pid, command, interval_bytes: intervalBytes, mode: exact ? 'exact' : 'sampled',
            all: config.all, by: opts.by, expand: !!opts.expand, top, cwd: meta.cwd, argv: meta.argv,
            at: exact ? 'exit' : opts.at, ...(everyMs ? { every_ms: everyMs } : {}),
            ...(others.length ? { other_processes: others } : {}),
          });
          const writer = new LogWriter(logPath, header, 0, { keep: true });
          for (const rec of heapRecords(data, {
            t: meta.durationMs, reason: meta.reason, exitCode: meta.exitCode, durationMs: meta.durationMs,
            writeMs: meta.writeMs, memoryUsage: meta.memoryUsage, profile: profilePath ?? undefined,
            ...(meta.memory ? { memory: meta.memory } : {}),
            ...(moment ? { moment: { kind: moment.kind, label: moment.label, t: moment.t, gc: moment.gc, memory: moment.memory } } : {}),
            ...(momentNote ? { momentNote } : {}),
          }, series.map((s) => ({ t: s.moment.t, memory: s.moment.memory, data: s.data })))) writer.write(rec);
          if (objects) writer.write({ t: meta.durationMs, ev: 'objects', counts: objects });
          writer.close();
          // The summary of what was written, from memory: the log may be a device.
          const contents = writer.contents()!;
          const report = buildReport(contents, { top, by: opts.by, expand: !!opts.expand, textOnly: true });
          process.stderr.write(`${report.text}\n`);
          for (const w of contents.warnings) process.stderr.write(`memtrace: warning: ${w}\n`);
          if (others.length) {
            process.stderr.write(`memtrace: ${read.length} node processes ran; this is PID ${meta.pid} (${meta.argv.slice(1).join(' ')})${profilePath ? `; the others' profiles: ${others.map((o) => o.profile).join(', ')}` : ''}\n`);
          }
          process.stderr.write(`memtrace: log ${logPath}\n`);
          if (profilePath) process.stderr.write(`memtrace: ${exact ? 'heap snapshot' : 'profile'} ${profilePath} (open in Chrome DevTools, Memory tab)\n`);
        } catch (err) {
          // Nothing of the run is lost: the message says where its profiles are.
          if (kept && isUsageError(err)) throw new UsageError(`${err.message}; the profiles of this run are kept in ${config.dir}`);
          throw err;
        } finally {
          if (!kept) rmSync(config.dir, { recursive: true, force: true });
        }
      });
    });
}
