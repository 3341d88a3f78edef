import { shown } from '../fields/field-rules';
import { CsvHeaderError } from './csv-errors';

export const REQUIRED_COLUMNS = [
  'code',
  'name',
  'regionCode',
  'pupils',
  'grades',
  'downlinkKbps',
  'timezone',
  'storageCapacityMb',
] as const;

export const OPTIONAL_COLUMNS = [
  'languages',
  'teacherGaps',
  'windows',
  'monthlyCapMb',
  'broadcastReceiver',
  'maxVideoHeight',
] as const;

export type SchoolColumn = (typeof REQUIRED_COLUMNS)[number] | (typeof OPTIONAL_COLUMNS)[number];

const KNOWN: readonly string[] = [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS];

function isColumn(name: string): name is SchoolColumn {
  return KNOWN.includes(name);
}

/** Where each column sits in a row, and how many cells every row must have. */
export interface CsvHeader {
  readonly index: ReadonlyMap<SchoolColumn, number>;
  readonly width: number;
}

function unknownColumn(name: string): string {
  // Names are exact (as in the JSON API), but a near miss deserves a pointer to the right name.
  const near = KNOWN.find((known) => known.toLowerCase() === name.toLowerCase());
  const hint = near ? ` (column names are case-sensitive: did you mean ${near}?)` : '';
  return `unknown column ${shown(name)}${hint}`;
}

/**
 * The header row: names trimmed, order free. Every problem is collected so one upload tells the
 * user everything wrong with the header, and a file we cannot map is refused before any row lands.
 */
export function readHeader(cells: string[]): CsvHeader {
  const problems: string[] = [];
  const index = new Map<SchoolColumn, number>();
  const names = cells.map((cell) => cell.trim());

  // A semicolon- or tab-separated file reads as a single column whose name holds every other one.
  // Its missing and unknown columns would only bury the one thing to fix, so it stands alone.
  if (names.length === 1 && /[;\t|]/.test(names[0])) {
    throw new CsvHeaderError([
      'the file must be comma-separated (this header looks separated by ";", tab or "|")',
    ]);
  }
  if (names.some((name) => name.includes('\ufffd'))) {
    problems.push(
      'the header is not valid UTF-8 text; for GB18030 send ?charset=gb18030 or Content-Type: text/csv; charset=gb18030',
    );
  }

  names.forEach((name, i) => {
    if (name === '') problems.push(`column ${i + 1} has no name`);
    else if (!isColumn(name)) problems.push(unknownColumn(name));
    else if (index.has(name)) problems.push(`column ${name} appears more than once`);
    else index.set(name, i);
  });
  for (const column of REQUIRED_COLUMNS) {
    if (!index.has(column)) problems.push(`missing required column ${column}`);
  }

  if (problems.length > 0) throw new CsvHeaderError(problems);
  return { index, width: cells.length };
}
