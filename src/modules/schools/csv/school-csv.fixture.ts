import { Readable } from 'node:stream';
import { CsvCharset, CsvEvent, CsvRejection, CsvSchoolRow, readSchoolCsv } from './school-csv';

/** Test helpers for the CSV reader specs. */

export const HEADER = 'code,name,regionCode,pupils,grades,downlinkKbps,timezone,storageCapacityMb';
export const VALID = 'S1,第一小学,CN-GS,120,1;2;3,512,Asia/Shanghai,64000';

/**
 * The bytes in small chunks, so multi-byte characters and CRLF pairs get split across chunk
 * boundaries the way a slow upload would split them.
 */
export function chunked(data: string | Buffer, size = 7): Readable {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

export interface ReadResult {
  events: CsvEvent[];
  rows: CsvSchoolRow[];
  rejected: CsvRejection[];
}

export async function readAll(
  data: string | Buffer | Readable,
  charset?: CsvCharset,
): Promise<ReadResult> {
  const source = data instanceof Readable ? data : chunked(data);
  const events: CsvEvent[] = [];
  for await (const event of readSchoolCsv(source, { charset })) events.push(event);
  return {
    events,
    rows: events.flatMap((e) => (e.kind === 'row' ? [e.row] : [])),
    rejected: events.flatMap((e) => (e.kind === 'rejected' ? [e.rejection] : [])),
  };
}

/** The events readSchoolCsv yields for this input before the error it then throws. */
export async function readUntilError(data: string | Buffer | Readable, charset?: CsvCharset) {
  const events: CsvEvent[] = [];
  try {
    const source = data instanceof Readable ? data : chunked(data);
    for await (const event of readSchoolCsv(source, { charset })) events.push(event);
  } catch (err) {
    return { events, error: err as Error };
  }
  throw new Error('expected readSchoolCsv to throw');
}

/** The error readSchoolCsv throws for this input (fails the test when it does not throw). */
export async function readError(data: string | Buffer | Readable, charset?: CsvCharset) {
  return (await readUntilError(data, charset)).error;
}

/** A deterministic byte generator (xorshift32), so "random garbage" tests are repeatable. */
export function garbage(bytes: number, seed = 0x2545f491): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
