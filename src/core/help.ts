/** The "Examples:" block every subcommand's --help ends with: one `$ memtrace …` line each, with a comment. */
export function helpExamples(examples: Array<[command: string, what: string]>): string {
  const width = Math.max(...examples.map(([c]) => c.length));
  return `\nExamples:\n${examples.map(([c, w]) => `  $ ${c.padEnd(width)}  # ${w}`).join('\n')}\n`;
}
