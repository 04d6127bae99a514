import type { Table } from './types.js';

function cell(v: string | number | null): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Renders a table as RFC 4180 CSV with a header row. */
export function renderCsv(table: Table): string {
  return [table.columns, ...table.rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}
