import { closeSync, existsSync, openSync, readSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError, fileError } from '../core/errors.js';
import { CorruptLogError, readLog, type LogContents } from '../core/log.js';
import { renderCsv } from './csv.js';
import { renderGnuplot } from './gnuplot.js';
import { renderHtml } from './html.js';
import type { Report, ReportOptions, ToolReportModule } from './types.js';

/** The formats `memtrace report` writes. */
export const FORMATS = ['html', 'gnuplot', 'csv', 'text', 'json', 'speedscope'] as const;
/** One of {@link FORMATS}. */
export type Format = (typeof FORMATS)[number];

const toolsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'tools');

/** The tools that have a report module (`src/tools/<tool>/report.ts`). */
export function reportingTools(): string[] {
  return readdirSync(toolsDir).filter((t) => existsSync(join(toolsDir, t, 'report.js'))).sort();
}

/** Loads the report module of `tool`, by convention. */
export async function toolReportModule(tool: string): Promise<ToolReportModule> {
  if (!/^[a-z][a-z0-9-]*$/.test(tool) || !reportingTools().includes(tool)) {
    throw new UsageError(`no report for logs of tool '${tool}' (this memtrace reports: ${reportingTools().join(', ')})`);
  }
  return (await import(pathToFileURL(join(toolsDir, tool, 'report.js')).href)) as ToolReportModule;
}

function head(path: string, n = 64): Buffer {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (err) { throw fileError(err, 'read log', path); }
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } catch (err) {
    throw fileError(err, 'read log', path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses the tool options given (long names, e.g. "--by") that the log's tool does not take,
 * naming the tools that do and the log's: "--by is for malloc logs only: run.jsonl is a process log".
 */
async function checkToolOptions(given: readonly string[], tool: string, module: ToolReportModule, path: string): Promise<void> {
  const refused = given.filter((o) => !module.reportOptions?.includes(o));
  if (!refused.length) return;
  const owners: string[] = [];
  for (const t of reportingTools()) {
    const m = await toolReportModule(t);
    if (refused.some((o) => m.reportOptions?.includes(o))) owners.push(t);
  }
  throw new UsageError(`${refused.join(', ')} ${refused.length > 1 ? 'are' : 'is'} for ${owners.join(', ') || 'other'} logs only: ${path} is a ${tool} log`);
}

/**
 * Reads any tool's log: JSON Lines, or a tool's binary log recognised by its module's `sniff`.
 * `given` lists the tool options asked for (long names): a log whose tool does not take one is refused.
 */
export async function loadLog(path: string, options: ReportOptions = {}, given: readonly string[] = []): Promise<{ log: LogContents; module: ToolReportModule }> {
  const first = head(path);
  if (first.length === 0) throw new UsageError(`${path} is empty: not a memtrace log`);
  if (first[0] !== 0x7b /* { */) {
    for (const tool of reportingTools()) {
      const mod = await toolReportModule(tool);
      if (mod.sniff?.(first) && mod.readToolLog) {
        await checkToolOptions(given, tool, mod, path);
        return { log: await mod.readToolLog(path, options), module: mod };
      }
    }
    throw new UsageError(`${path} is not a memtrace log (neither JSON Lines nor a known binary log)`);
  }
  const log = await readLog(path);
  const module = await toolReportModule(log.header.tool);
  await checkToolOptions(given, log.header.tool, module, path);
  return { log, module };
}

/**
 * Builds the report of the log at `path`. `given` lists the tool options asked for on the
 * command line (long names, e.g. "--by"): the log's tool must take each.
 */
export async function buildReport(path: string, options: ReportOptions = {}, given: readonly string[] = []): Promise<Report> {
  const { log, module } = await loadLog(path, options, given);
  let report: Report;
  try {
    report = await module.buildReport(log, options);
  } catch (err) {
    if (err instanceof CorruptLogError) throw new UsageError(`corrupt log ${path}: ${err.message}`);
    // A record of the wrong shape that no check caught: still a damaged log, said in one line.
    if (err instanceof TypeError) throw new UsageError(`corrupt log ${path}: its records do not have the shape of a ${log.header.tool} log (${err.message})`);
    throw err;
  }
  report.warnings = [...log.warnings, ...report.warnings];
  return report;
}

/** The default output path of a format for a log: beside it, with the format's extension. */
export function defaultOutput(logPath: string, format: Format): string | undefined {
  const stem = join(dirname(logPath), basename(logPath, extname(logPath)));
  switch (format) {
    case 'html': return `${stem}.html`;
    case 'gnuplot': return `${stem}.dat`;
    case 'csv': return `${stem}.csv`;
    case 'speedscope': return `${stem}.speedscope.json`;
    default: return undefined;
  }
}

function write(path: string, data: string): void {
  try { writeFileSync(path, data); } catch (err) { throw fileError(err, 'write', path); }
}

/**
 * Writes `report` in `format`. `output` undefined means stdout for text and json; html, csv
 * and gnuplot need a path. Returns the paths written.
 */
export function writeReport(report: Report, format: Format, output: string | undefined): string[] {
  const toStdout = output === undefined || output === '-';
  switch (format) {
    case 'text':
    case 'json': {
      const data = format === 'text' ? report.text + '\n' : JSON.stringify(report.summary, null, 2) + '\n';
      if (toStdout) { process.stdout.write(data); return []; }
      write(output, data);
      return [output];
    }
    case 'csv': {
      const data = renderCsv(report.table);
      if (toStdout) { process.stdout.write(data); return []; }
      write(output, data);
      return [output];
    }
    case 'html': {
      if (toStdout) { process.stdout.write(renderHtml(report)); return []; }
      write(output, renderHtml(report));
      return [output];
    }
    case 'speedscope': {
      if (!report.speedscope) throw new UsageError(`this log holds no stacks to export to speedscope (heap logs and malloc traces recorded with --stacks do)`);
      const data = JSON.stringify(report.speedscope) + '\n';
      if (toStdout) { process.stdout.write(data); return []; }
      write(output, data);
      return [output];
    }
    case 'gnuplot': {
      if (toStdout) throw new UsageError('--format gnuplot writes two files: give --output NAME.dat');
      const dat = output.endsWith('.dat') ? output : `${output}.dat`;
      const plt = dat.replace(/\.dat$/, '.plt');
      const png = dat.replace(/\.dat$/, '.png');
      const files = renderGnuplot(report, dat, png);
      write(dat, files.dat);
      write(plt, files.plt);
      return [dat, plt];
    }
  }
}
