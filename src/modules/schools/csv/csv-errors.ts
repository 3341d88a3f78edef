/**
 * The header row (or what stands before it) makes the whole file unusable: a required column is
 * missing, a column is unknown or repeated, the file is empty, not comma-separated, or in an
 * encoding we do not read. Thrown before any row is yielded, so nothing from the file lands.
 * The import service maps it to csv_header_invalid.
 */
export class CsvHeaderError extends Error {
  constructor(readonly problems: string[]) {
    super(`The CSV header row is invalid: ${problems.join('; ')}`);
    this.name = 'CsvHeaderError';
  }
}

/**
 * The parser cannot go on past `line` (the physical line where the broken record starts): a quoted
 * cell that is never closed, or a record beyond the size limit. Rows yielded before it were valid,
 * but the rest of the file was not read.
 */
export class CsvFormatError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`The CSV cannot be read from line ${line}: ${problem}`);
    this.name = 'CsvFormatError';
  }
}
