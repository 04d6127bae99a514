import type { LogContents } from '../core/log.js';

/** A time chart: one x axis of ms since start, series of values (null where unknown). */
export interface Chart {
  title: string;
  /** How values read: bytes, percent, per-second, count. */
  unit: 'bytes' | 'percent' | 'per-second' | 'count';
  t: number[];
  series: Array<{ label: string; values: Array<number | null>; color?: string }>;
  /** Draw series as stacked areas (each on top of the previous). */
  stacked?: boolean;
  /** Labelled vertical lines. */
  marks?: Array<{ t: number; label: string }>;
  /** Draw as steps (values hold until the next point). */
  steps?: boolean;
}

/** A plain table. */
export interface Table {
  title?: string;
  columns: string[];
  rows: Array<Array<string | number | null>>;
  /** Columns whose numbers are bytes: HTML shows them as sizes (exact bytes on hover); CSV keeps them raw. */
  byteColumns?: string[];
}

/** One part of a report page. */
export type Section =
  | { kind: 'chart'; chart: Chart }
  | { kind: 'table'; table: Table }
  | { kind: 'html'; title?: string; html: string };

/** What a tool makes of its log, ready for any format's renderer. */
export interface Report {
  /** Page title, e.g. "memtrace process: node server.js". */
  title: string;
  /** The summary as one JSON-able object (the `json` format). */
  summary: Record<string, unknown>;
  /** The summary for people (the `text` format and what a tool prints at exit). */
  text: string;
  /** Charts, tables and HTML fragments for the `html` format; charts also feed `gnuplot`. */
  sections: Section[];
  /** The rows of the `csv` format. */
  table: Table;
  /** Problems found while reading the log. */
  warnings: string[];
  /**
   * For logs that hold stacks: a speedscope file (https://www.speedscope.app/file-format-schema.json),
   * written by the `speedscope` format.
   */
  speedscope?: Record<string, unknown>;
}

/** Options every tool's report builder takes. */
export interface ReportOptions {
  /** How many rows in top-N tables. */
  top?: number;
  /** Tool-specific options pass through untouched. */
  [option: string]: unknown;
}

/**
 * The contract of `src/tools/<tool>/report.ts`, found by convention from the log header's
 * `tool` field: the tool owns the meaning of its log; `report/` owns the formats.
 */
export interface ToolReportModule {
  /** Builds the report from a log read back. */
  buildReport(log: LogContents, options: ReportOptions): Report | Promise<Report>;
  /** For tools with a binary log: true when these first bytes are this tool's. */
  sniff?(head: Buffer): boolean;
  /** For tools with a binary log: reads it as a header and records (some options choose what is read, e.g. a window). */
  readToolLog?(path: string, options: ReportOptions): Promise<LogContents>;
  /** The `memtrace report` options only this tool's logs take, by long name ("--by"); any other log refuses them. */
  reportOptions?: readonly string[];
}
