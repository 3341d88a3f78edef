import { Readable, TransformCallback, pipeline } from 'node:stream';
import { CsvError, Options, Parser } from 'csv-parse';
import type { SchoolFields } from '../fields/school-fields';
import { CsvCharset, CsvDecoder } from './csv-decoder';
import { CsvFormatError, CsvHeaderError } from './csv-errors';
import { CsvHeader, SchoolColumn, readHeader } from './school-header';
import { readSchoolRow } from './school-row';

export { CsvFormatError, CsvHeaderError } from './csv-errors';
export type { CsvCharset } from './csv-decoder';
export { OPTIONAL_COLUMNS, REQUIRED_COLUMNS } from './school-header';
export type { SchoolColumn } from './school-header';

/** A school read from one row; `line` counts the header as line 1 (the line the row starts on). */
export interface CsvSchoolRow {
  line: number;
  regionCode: string;
  fields: SchoolFields;
}

export type CsvRejectionReason =
  'duplicate_code' | 'invalid_value' | 'missing_value' | 'column_count' | 'invalid_encoding';

/**
 * `field` is the CSV column to fix; `message` is the human sentence behind `reason`. `reason` is a
 * plain string so the import service can add its own (unknown_region, ...) to the same list; this
 * reader only produces CsvRejectionReason.
 */
export interface CsvRejection {
  line: number;
  code?: string;
  field?: string;
  reason: string;
  message?: string;
}

export type CsvEvent =
  { kind: 'row'; row: CsvSchoolRow } | { kind: 'rejected'; rejection: CsvRejection };

/*
 * Far above any real row (a few hundred bytes), yet small enough that a file without line breaks,
 * or a quote that is never closed, fails after 64 KB instead of growing one record without bound.
 */
export const MAX_RECORD_BYTES = 64 * 1024;

type NumberedRecord = string[] & { line: number };
interface ParseFailure {
  failure: CsvError;
}

/**
 * csv-parse destroys itself on a parse error, which throws away records it has parsed but we have
 * not read yet: rows before the broken one would be neither yielded nor rejected. This parser hands
 * the error over in-band instead, after those records, and then ends its output.
 */
class InBandErrorParser extends Parser {
  constructor(options: Options) {
    super(options);
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, done: TransformCallback): void {
    super._transform(chunk, encoding, (err?: Error | null) => this.settle(err, done));
  }

  override _flush(done: TransformCallback): void {
    super._flush((err?: Error | null) => this.settle(err, done));
  }

  // After a parse error csv-parse stops calling back on writes, so the source stalls until the
  // reader, having met the failure, destroys the pipeline.
  private settle(err: Error | null | undefined, done: TransformCallback): void {
    if (!(err instanceof CsvError)) return done(err);
    this.push({ failure: err } satisfies ParseFailure);
    this.push(null);
    done();
  }
}

const LINE_BREAK = /\r\n|\r|\n/g;

function lineBreaks(cells: string[]): number {
  let count = 0;
  for (const cell of cells) {
    if (cell.includes('\n') || cell.includes('\r')) count += cell.match(LINE_BREAK)?.length ?? 0;
  }
  return count;
}

function isBlank(cells: string[]): boolean {
  return cells.every((cell) => cell.trim() === '');
}

/** The code to quote back in a rejection, when the cell holds something recognisable. */
function quotedCode(raw: string | undefined): string | undefined {
  const code = raw?.trim();
  if (!code || code.includes('\ufffd') || [...code].length > 64) return undefined;
  return code;
}

/* With relax_quotes and relax_column_count, these two are the only errors csv-parse can raise. */
function formatProblem(err: CsvError): string {
  if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
    return 'a quoted cell that starts in this row is never closed';
  }
  if (err.code === 'CSV_MAX_RECORD_SIZE') {
    return `a row longer than ${MAX_RECORD_BYTES / 1024} KB: is this a comma-separated CSV file with one school per line?`;
  }
  return err.message;
}

function toEvent(
  record: NumberedRecord,
  header: CsvHeader,
  firstLineOf: Map<string, number>,
  charset: CsvCharset,
): CsvEvent {
  const line = record.line;
  const cell = (column: SchoolColumn) => {
    const i = header.index.get(column);
    return i === undefined ? undefined : record[i];
  };
  const code = quotedCode(cell('code'));
  const rejected = (rejection: {
    field?: SchoolColumn;
    reason: CsvRejectionReason;
    message: string;
  }): CsvEvent => ({
    kind: 'rejected',
    rejection: { line, ...(code === undefined ? {} : { code }), ...rejection },
  });

  if (record.length !== header.width) {
    return rejected({
      reason: 'column_count',
      message: `the row has ${record.length} cells where the header has ${header.width}`,
    });
  }
  const garbled = [...header.index].find(([, i]) => record[i].includes('\ufffd'));
  if (garbled) {
    return rejected({
      field: garbled[0],
      reason: 'invalid_encoding',
      message:
        charset === 'utf-8'
          ? `${garbled[0]} holds bytes that are not UTF-8; for a GB18030 file send ?charset=gb18030`
          : `${garbled[0]} holds bytes that are not GB18030`,
    });
  }
  const earlier = code === undefined ? undefined : firstLineOf.get(code);
  if (earlier !== undefined) {
    return rejected({
      field: 'code',
      reason: 'duplicate_code',
      message: `code ${code} was already given on line ${earlier}; the first row wins`,
    });
  }

  const outcome = readSchoolRow(cell);
  if (!outcome.ok) {
    return rejected({ field: outcome.field, reason: outcome.reason, message: outcome.message });
  }
  // Only a row that lands claims its code: a rejected first attempt must not block a later fix.
  firstLineOf.set(outcome.fields.code, line);
  return { kind: 'row', row: { line, regionCode: outcome.regionCode, fields: outcome.fields } };
}

/**
 * Streams a schools CSV (API.md, POST /schools/import) into rows and rejections, in file order.
 *
 * Throws CsvHeaderError before yielding anything when the file cannot be mapped (empty, bad
 * header, wrong delimiter, UTF-16, or broken before the header ends); throws CsvFormatError when a
 * later record cannot be parsed at all (unclosed quote, oversized record): rows already yielded were
 * valid, but the rest of the file was not read. Memory stays flat apart from one entry per
 * accepted code, kept to report duplicates.
 */
export async function* readSchoolCsv(
  source: NodeJS.ReadableStream | Readable,
  opts: { charset?: CsvCharset } = {},
): AsyncGenerator<CsvEvent> {
  const charset = opts.charset ?? 'utf-8';
  // Lines are counted here rather than taken from csv-parse's info.lines, which counts a CRLF
  // inside a quoted cell twice. on_record runs synchronously as each record is parsed, so after a
  // parser error `nextLine` is exactly where the broken record starts.
  let nextLine = 1;
  const parser = new InBandErrorParser({
    relax_column_count: true, // a short or long row is that row's rejection, not the file's
    relax_quotes: true, // a quote inside an unquoted cell (6" screen) is text, as spreadsheets mean it
    max_record_size: MAX_RECORD_BYTES,
    on_record: (cells: string[]) => {
      const line = nextLine;
      nextLine += 1 + lineBreaks(cells);
      // Blank lines, and rows of empty cells that spreadsheets leave behind, are not schools.
      return isBlank(cells) ? null : Object.assign(cells, { line });
    },
  });
  // Errors from the source and the decoder reach us through the parser, which pipeline destroys
  // with the same error; the callback has nothing left to report.
  pipeline(source, new CsvDecoder(charset), parser, () => undefined);

  let header: CsvHeader | undefined;
  const firstLineOf = new Map<string, number>();
  for await (const record of parser as AsyncIterable<NumberedRecord | ParseFailure>) {
    if (!Array.isArray(record)) {
      const problem = formatProblem(record.failure);
      if (header === undefined) throw new CsvHeaderError([`line ${nextLine}: ${problem}`]);
      throw new CsvFormatError(nextLine, problem);
    }
    if (header === undefined) header = readHeader(record);
    else yield toEvent(record, header, firstLineOf, charset);
  }
  if (header === undefined) {
    throw new CsvHeaderError(['the file is empty: its first line must be the header row']);
  }
}
