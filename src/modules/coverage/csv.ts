/**
 * CSV for spreadsheets: RFC 4180 quoting, and cells that a spreadsheet would run as a formula
 * (starting with = + - @, or a tab or carriage return) written with a leading apostrophe.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export type Cell = string | number | boolean | null | undefined;

export function csvCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Nested objects become columns named by their path: terminals.seen24h -> terminalsSeen24h. */
export function flatten(row: object, prefix = ''): Record<string, Cell> {
  const out: Record<string, Cell> = {};
  for (const [key, value] of Object.entries(row)) {
    const name = prefix ? `${prefix}${key[0].toUpperCase()}${key.slice(1)}` : key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      Object.assign(out, flatten(value as object, name));
    } else {
      out[name] = value as Cell;
    }
  }
  return out;
}

/** A header row from the first row's columns (or the given ones), then one line per row. */
export function toCsv(rows: object[], columns?: string[]): string {
  const flat = rows.map((r) => flatten(r));
  const header = columns ?? (flat[0] ? Object.keys(flat[0]) : []);
  const lines = [header.map(csvCell).join(',')];
  for (const row of flat) lines.push(header.map((c) => csvCell(row[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
