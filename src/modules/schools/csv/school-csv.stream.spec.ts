import { PassThrough, Readable } from 'node:stream';
import { CsvFormatError, CsvHeaderError, readSchoolCsv } from './school-csv';
import { HEADER, VALID, chunked, garbage, readUntilError } from './school-csv.fixture';

const FULL_HEADER = `${HEADER},languages,teacherGaps,windows,monthlyCapMb,broadcastReceiver,maxVideoHeight`;

/** A generated file of `rows` schools, produced lazily in 64 KB-ish chunks. */
function schoolsFile(rows: number): Readable {
  function* chunks() {
    yield Buffer.from(`${FULL_HEADER}\r\n`);
    let batch = '';
    for (let i = 0; i < rows; i++) {
      batch += `GS-${i},"甘肃省第${i}小学, 分校",CN-GS-${i % 97},${i % 2000},1;2;3;4;5;6,${512 + (i % 4096)},Asia/Shanghai,${64000 + i},zh-CN;ug,english:3-6;music:1,22:00-06:00;12:00-13:00,${i % 3 === 0 ? '' : 20000},${i % 2 === 0},720\r\n`;
      if (batch.length > 60_000) {
        yield Buffer.from(batch);
        batch = '';
      }
    }
    yield Buffer.from(batch);
  }
  return Readable.from(chunks());
}

describe('readSchoolCsv: size and streaming', () => {
  it('reads 64,000 rows quickly, with memory that does not grow with the file', async () => {
    const started = Date.now();
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    let rows = 0;
    let lastLine = 0;
    for await (const event of readSchoolCsv(schoolsFile(64_000), {})) {
      if (event.kind !== 'row') throw new Error(`unexpected ${JSON.stringify(event)}`);
      rows += 1;
      lastLine = event.row.line;
      if (rows % 4000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    const elapsed = Date.now() - started;
    expect(rows).toBe(64_000);
    expect(lastLine).toBe(64_001);
    // A stall detector, not a speed test (bench/schools.bench.ts measures speed): CI machines are shared.
    expect(elapsed).toBeLessThan(240_000);
    // Loose on purpose (the GC runs when it likes): holding every row would cost far more.
    expect(peak - baseline).toBeLessThan(150 * 1024 * 1024);
  }, 300_000);

  it('yields rows before the upload has ended', async () => {
    const source = new PassThrough();
    const events = readSchoolCsv(source, {});
    // csv-parse holds back the last record of what it has until it sees what follows (a CRLF
    // could be split), so two rows are written for the first to come out.
    source.write(`${HEADER}\n${VALID}\n${VALID.replace('S1', 'S2')}\n`);
    expect((await events.next()).value).toMatchObject({ kind: 'row', row: { line: 2 } });
    source.end();
    expect((await events.next()).value).toMatchObject({ kind: 'row', row: { line: 3 } });
    expect((await events.next()).done).toBe(true);
  });

  it('releases the source when the reader stops early', async () => {
    const source = schoolsFile(10_000);
    for await (const event of readSchoolCsv(source, {})) {
      expect(event.kind).toBe('row');
      break;
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.destroyed).toBe(true);
  });

  it('passes on an error of the source', async () => {
    const source = new PassThrough();
    const events = readSchoolCsv(source, {});
    source.write(`${HEADER}\n`);
    setImmediate(() => source.destroy(new Error('client went away')));
    await expect(events.next()).rejects.toThrow('client went away');
  });
});

describe('readSchoolCsv: garbage', () => {
  const TEN_MB = 10 * 1024 * 1024;

  it.each([1, 2, 3, 0x2545f491])(
    'ends 10 MB of random bytes (seed %d) quickly with a file error',
    async (seed) => {
      const source = chunked(garbage(TEN_MB, seed), 64 * 1024);
      const started = Date.now();
      const { events, error } = await readUntilError(source);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(events).toEqual([]);
      expect(error).toBeInstanceOf(CsvHeaderError);
    },
  );

  it('ends random bytes that open with a quote quickly with a header error', async () => {
    const bytes = garbage(TEN_MB);
    bytes[0] = 0x22;
    const started = Date.now();
    const { error } = await readUntilError(chunked(bytes, 64 * 1024));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(error).toBeInstanceOf(CsvHeaderError);
  });

  it('stops a valid header followed by 10 MB without a line break at 64 KB', async () => {
    const bytes = Buffer.concat([Buffer.from(`${HEADER}\n${VALID}\n`), Buffer.alloc(TEN_MB, 'x')]);
    const source = chunked(bytes, 64 * 1024);
    const started = Date.now();
    const { events, error } = await readUntilError(source);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(events).toHaveLength(1);
    expect(error).toBeInstanceOf(CsvFormatError);
    expect(error).toMatchObject({ line: 3 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.destroyed).toBe(true);
  });

  it('rejects garbage rows under a valid header one by one, without stalling', async () => {
    const source = chunked(
      Buffer.concat([Buffer.from(`${HEADER}\n`), garbage(TEN_MB, 7)]),
      64 * 1024,
    );
    const started = Date.now();
    const kinds = new Set<string>();
    let rejected = 0;
    try {
      for await (const event of readSchoolCsv(source, {})) {
        kinds.add(event.kind);
        rejected += 1;
      }
    } catch (err) {
      // A stray quote in the garbage may leave a cell open to the end of the file.
      expect(err).toBeInstanceOf(CsvFormatError);
    }
    expect([...kinds]).toEqual(['rejected']);
    expect(rejected).toBeGreaterThan(1000);
    // csv-parse itself reads random bytes at roughly 10 MB/s; the bound only catches a stall.
    expect(Date.now() - started).toBeLessThan(240_000);
  }, 300_000);
});
