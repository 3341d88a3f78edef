import { CsvFormatError, CsvHeaderError, MAX_RECORD_BYTES } from './school-csv';
import { HEADER, VALID, readAll, readError, readUntilError } from './school-csv.fixture';

const FULL_HEADER = `${HEADER},languages,teacherGaps,windows,monthlyCapMb,broadcastReceiver,maxVideoHeight`;
const COLUMNS = FULL_HEADER.split(',');
const BASE: Record<string, string> = {
  code: 'S1',
  name: '第一小学',
  regionCode: 'CN-GS',
  pupils: '120',
  grades: '1;2;3;4;5;6',
  downlinkKbps: '512',
  timezone: 'Asia/Shanghai',
  storageCapacityMb: '64000',
};

/** The one rejection for a single row built from BASE with `cells` changed. */
async function rejectionFor(cells: Record<string, string>) {
  const row = COLUMNS.map((c) => {
    const value = cells[c] ?? BASE[c] ?? '';
    return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  });
  const { rows, rejected } = await readAll(`${FULL_HEADER}\n${row.join(',')}\n`);
  expect(rows).toEqual([]);
  expect(rejected).toHaveLength(1);
  return rejected[0];
}

describe('readSchoolCsv: invalid values', () => {
  it.each<[string, Record<string, string>, string, RegExp]>([
    ['timezone +08:00', { timezone: '+08:00' }, 'timezone', /IANA/],
    ['timezone UTC+8', { timezone: 'UTC+8' }, 'timezone', /IANA/],
    ['window 25:00-06:00', { windows: '25:00-06:00' }, 'windows', /"25:00"/],
    ['window without a length', { windows: '08:00-08:00' }, 'windows', /length/],
    ['a window that is not start-end', { windows: '22:00' }, 'windows', /start-end/],
    ['gap english:6-3', { teacherGaps: 'english:6-3' }, 'teacherGaps', /english:3-6/],
    ['gap astrology:1', { teacherGaps: 'astrology:1' }, 'teacherGaps', /"astrology"/],
    ['gap without grades', { teacherGaps: 'english' }, 'teacherGaps', /subject:grade/],
    ['gap grade 0', { teacherGaps: 'english:0-3' }, 'teacherGaps', /1 to 12/],
    ['gap with a huge range', { teacherGaps: 'english:1-999999999' }, 'teacherGaps', /1 to 12/],
    [
      'gap for a grade not taught',
      { grades: '1;2', teacherGaps: 'english:3' },
      'teacherGaps',
      /not one of/,
    ],
    ['grades 0', { grades: '0' }, 'grades', /grade 0/],
    ['grades 13', { grades: '1;13' }, 'grades', /grade 13/],
    ['grades with a word', { grades: '1;two' }, 'grades', /digits only/],
    ['pupils -1', { pupils: '-1' }, 'pupils', /digits only/],
    ['pupils 1.5', { pupils: '1.5' }, 'pupils', /digits only/],
    ['pupils 1e3', { pupils: '1e3' }, 'pupils', /digits only/],
    ['pupils 100001', { pupils: '100001' }, 'pupils', /0 to 100000/],
    ['downlink in full-width digits', { downlinkKbps: '５１２' }, 'downlinkKbps', /digits only/],
    [
      'storage beyond a safe integer',
      { storageCapacityMb: '99999999999999999999' },
      'storageCapacityMb',
      /0 to/,
    ],
    ['a code with a space', { code: 'S 1' }, 'code', /letters, digits/],
    ['a malformed language', { languages: 'zh-CN;not a tag' }, 'languages', /BCP 47/],
    ['monthlyCapMb -5', { monthlyCapMb: '-5' }, 'monthlyCapMb', /digits only/],
    [
      'broadcastReceiver maybe',
      { broadcastReceiver: 'maybe' },
      'broadcastReceiver',
      /true or false/,
    ],
    ['maxVideoHeight 1080', { maxVideoHeight: '1080' }, 'maxVideoHeight', /240, 360, 480, 720/],
  ])('rejects %s as invalid_value', async (_label, cells, field, message) => {
    expect(await rejectionFor(cells)).toEqual({
      line: 2,
      code: cells.code ?? 'S1',
      field,
      reason: 'invalid_value',
      message: expect.stringMatching(message),
    });
  });

  it.each([
    'code',
    'name',
    'regionCode',
    'pupils',
    'grades',
    'downlinkKbps',
    'timezone',
    'storageCapacityMb',
  ])('rejects an empty %s as missing_value', async (column) => {
    const rejection = await rejectionFor({ [column]: column === 'grades' ? ' ; ' : '  ' });
    expect(rejection).toMatchObject({ line: 2, field: column, reason: 'missing_value' });
  });

  it('reports the first problem in column order', async () => {
    expect(
      await rejectionFor({ maxVideoHeight: '1080', timezone: '+08:00', pupils: '-1' }),
    ).toMatchObject({
      field: 'pupils',
    });
    expect(await rejectionFor({ windows: 'soon', code: 'bad code' })).toMatchObject({
      field: 'code',
    });
  });

  it('quotes back a code only when it is recognisable', async () => {
    expect(await rejectionFor({ code: 'x'.repeat(65) })).not.toHaveProperty('code');
    expect(await rejectionFor({ code: '学校一' })).toMatchObject({ code: '学校一', field: 'code' });
  });
});

describe('readSchoolCsv: rows that do not fit the file', () => {
  it('rejects a row with fewer or more cells than the header', async () => {
    const csv = `${HEADER}\nS1,N,R,1,1,1,UTC\n${VALID},extra\n${VALID.replace('S1', 'S3')}\n`;
    const { rows, rejected } = await readAll(csv);
    expect(rejected).toEqual([
      {
        line: 2,
        code: 'S1',
        reason: 'column_count',
        message: 'the row has 7 cells where the header has 8',
      },
      {
        line: 3,
        code: 'S1',
        reason: 'column_count',
        message: 'the row has 9 cells where the header has 8',
      },
    ]);
    expect(rows.map((r) => r.fields.code)).toEqual(['S3']);
  });

  it('lets the first row with a code win and rejects later ones as duplicate_code', async () => {
    const csv = [
      HEADER,
      'S1,First,R,1,1,1,UTC,1',
      'S2,Other,R,1,1,1,UTC,1',
      'S1,Second,R,1,1,1,UTC,1',
      ' S1 ,Third,R,1,1,1,Asia/Shanghai,1',
      '',
    ].join('\n');
    const { rows, rejected } = await readAll(csv);
    expect(rows.map((r) => [r.fields.code, r.fields.name])).toEqual([
      ['S1', 'First'],
      ['S2', 'Other'],
    ]);
    expect(rejected).toEqual([
      {
        line: 4,
        code: 'S1',
        field: 'code',
        reason: 'duplicate_code',
        message: expect.stringMatching(/line 2/),
      },
      {
        line: 5,
        code: 'S1',
        field: 'code',
        reason: 'duplicate_code',
        message: expect.stringMatching(/line 2/),
      },
    ]);
  });

  it('does not let a rejected row claim its code', async () => {
    const csv = [
      HEADER,
      'S1,Bad,R,1,1,1,+08:00,1',
      'S1,Fixed,R,1,1,1,UTC,1',
      'S1,Again,R,1,1,1,UTC,1',
      '',
    ].join('\n');
    const { rows, rejected } = await readAll(csv);
    expect(rows.map((r) => [r.line, r.fields.name])).toEqual([[3, 'Fixed']]);
    expect(rejected.map((r) => [r.line, r.reason])).toEqual([
      [2, 'invalid_value'],
      [4, 'duplicate_code'],
    ]);
  });
});

describe('readSchoolCsv: files the parser cannot finish', () => {
  it('stops at a quoted cell that is never closed, after yielding the rows before it', async () => {
    const { events, error } = await readUntilError(
      `${HEADER}\n${VALID}\nS2,N,R,1,1,1,+08:00,1\nS3,"Unclosed,R,1,1,1,UTC,1\nS4,N,R,1,1,1,UTC,1\n`,
    );
    expect(events.map((e) => e.kind)).toEqual(['row', 'rejected']);
    expect(error).toBeInstanceOf(CsvFormatError);
    expect(error).toMatchObject({ line: 4, problem: expect.stringMatching(/never closed/) });
  });

  it('stops at a record beyond the size limit', async () => {
    const err = await readError(`${HEADER}\n${VALID}\nS2,${'x'.repeat(MAX_RECORD_BYTES + 10)}\n`);
    expect(err).toBeInstanceOf(CsvFormatError);
    expect(err).toMatchObject({ line: 3, problem: expect.stringMatching(/64 KB/) });
  });

  it('counts a broken header as a header error, so nothing from the file lands', async () => {
    const err = await readError(`"code,name\n${VALID}\n`);
    expect(err).toBeInstanceOf(CsvHeaderError);
    expect((err as CsvHeaderError).problems).toEqual([
      'line 1: a quoted cell that starts in this row is never closed',
    ]);
  });
});
