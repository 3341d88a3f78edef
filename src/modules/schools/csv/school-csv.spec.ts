import { Readable } from 'node:stream';
import * as iconv from 'iconv-lite';
import { CsvHeaderError, readSchoolCsv } from './school-csv';
import { HEADER, VALID, readAll, readError } from './school-csv.fixture';

const FULL_HEADER = `${HEADER},languages,teacherGaps,windows,monthlyCapMb,broadcastReceiver,maxVideoHeight`;

describe('readSchoolCsv: rows', () => {
  it('reads a full row into the fields of POST /schools', async () => {
    const csv = `${FULL_HEADER}\nGS-001,兰州市第一小学, CN-GS-01 ,420,1;2;3;4;5;6,2048,Asia/Shanghai,500000,zh-cn;ug,english:3-6;music:1,22:00-06:00;12:00-13:00,20000,TRUE,720\n`;
    const { events } = await readAll(csv);
    expect(events).toEqual([
      {
        kind: 'row',
        row: {
          line: 2,
          regionCode: 'CN-GS-01',
          fields: {
            code: 'GS-001',
            name: '兰州市第一小学',
            pupils: 420,
            grades: [1, 2, 3, 4, 5, 6],
            languages: ['zh-CN', 'ug'],
            teacherGaps: [
              { subject: 'english', grades: [3, 4, 5, 6] },
              { subject: 'music', grades: [1] },
            ],
            link: {
              downlinkKbps: 2048,
              windows: [
                { start: '22:00', end: '06:00' },
                { start: '12:00', end: '13:00' },
              ],
              timezone: 'Asia/Shanghai',
              monthlyCapMb: 20000,
              broadcastReceiver: true,
            },
            storageCapacityMb: 500000,
            device: {
              maxVideoHeight: 720,
              videoCodecs: ['h264'],
              imageFormats: ['webp', 'jpeg', 'png'],
            },
          },
        },
      },
    ]);
  });

  const DEFAULTS = {
    languages: ['zh-CN'],
    teacherGaps: [],
    link: {
      downlinkKbps: 512,
      windows: [],
      timezone: 'Asia/Shanghai',
      monthlyCapMb: null,
      broadcastReceiver: false,
    },
    device: { maxVideoHeight: 480, videoCodecs: ['h264'], imageFormats: ['webp', 'jpeg', 'png'] },
  };

  it('applies the defaults when optional columns are absent', async () => {
    const { rows } = await readAll(`${HEADER}\n${VALID}\n`);
    expect(rows[0].fields).toMatchObject(DEFAULTS);
  });

  it('applies the defaults when optional cells are empty or blank', async () => {
    const { rows } = await readAll(`${FULL_HEADER}\n${VALID},, ,,,,\n`);
    expect(rows[0].fields).toMatchObject(DEFAULTS);
  });

  it('takes the columns in any order', async () => {
    const { rows } = await readAll(
      'storageCapacityMb,timezone,downlinkKbps,grades,pupils,regionCode,name,code\n64000,UTC,512,1,10,R,Name,S9\n',
    );
    expect(rows[0]).toMatchObject({
      regionCode: 'R',
      fields: { code: 'S9', name: 'Name', pupils: 10 },
    });
  });

  it.each([
    '=HYPERLINK("http://x")',
    '<script>alert(1)</script>',
    '  padded name  ',
    '+cmd|calc!A1',
  ])('keeps the name %j exactly as given', async (name) => {
    const cell = `"${name.replace(/"/g, '""')}"`;
    const { rows } = await readAll(`${HEADER}\nS1,${cell},R,1,1,1,UTC,1\n`);
    expect(rows[0].fields.name).toBe(name);
  });

  it('keeps a quote inside an unquoted cell as text', async () => {
    const { rows } = await readAll(`${HEADER}\nS1,第"一"小学,R,1,1,1,UTC,1\n`);
    expect(rows[0].fields.name).toBe('第"一"小学');
  });

  it('reads lists with spaces and empty items, merges a repeated gap subject, pads 6:00', async () => {
    const { rows } = await readAll(
      `${FULL_HEADER}\nS1,N,R,1, 1 ; 2 ;;3;5; ,1,UTC,1, zh-CN ; ug ,English:1-2; english:5 ;;pe:3,22:00 - 6:00,,yes,480p\n`,
    );
    expect(rows[0].fields).toMatchObject({
      grades: [1, 2, 3, 5],
      languages: ['zh-CN', 'ug'],
      teacherGaps: [
        { subject: 'english', grades: [1, 2, 5] },
        { subject: 'pe', grades: [3] },
      ],
      link: { windows: [{ start: '22:00', end: '06:00' }], broadcastReceiver: true },
      device: { maxVideoHeight: 480 },
    });
  });

  it.each([
    ['true', true],
    ['False', false],
    ['1', true],
    ['0', false],
    ['YES', true],
    ['no', false],
  ])('reads broadcastReceiver %j as %j', async (cell, expected) => {
    const { rows } = await readAll(`${HEADER},broadcastReceiver\n${VALID},${cell}\n`);
    expect(rows[0].fields.link.broadcastReceiver).toBe(expected);
  });

  it('skips blank lines and rows of empty cells but still counts their lines', async () => {
    const csv = `\n${HEADER}\n\n${VALID}\n,,,,,,,\n  \nS2,N,R,1,1,1,UTC,1\n\n`;
    const { rows, rejected } = await readAll(csv);
    expect(rejected).toEqual([]);
    expect(rows.map((r) => [r.fields.code, r.line])).toEqual([
      ['S1', 4],
      ['S2', 7],
    ]);
  });

  it('gives a multi-line quoted name the line it starts on, and later rows their own lines', async () => {
    for (const eol of ['\n', '\r\n']) {
      const csv = [
        HEADER,
        'S1,"第一小学',
        '(分校)',
        '三年级",R,1,1,1,UTC,1',
        'S2,N,R,1,1,1,+08:00,1',
        '',
      ].join(eol);
      const { rows, rejected } = await readAll(csv);
      expect(rows).toEqual([expect.objectContaining({ line: 2 })]);
      expect(rows[0].fields.name).toBe(['第一小学', '(分校)', '三年级'].join(eol));
      expect(rejected).toEqual([
        expect.objectContaining({ line: 5, code: 'S2', field: 'timezone' }),
      ]);
    }
  });
});

describe('readSchoolCsv: encodings', () => {
  it('strips a UTF-8 byte order mark', async () => {
    const { rows } = await readAll(
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${HEADER}\n${VALID}\n`)]),
    );
    expect(rows).toHaveLength(1);
  });

  it('round-trips Chinese names from GB18030, including characters outside the BMP', async () => {
    const names = ['兰州市第一小学', '甘南藏族自治州合作市𠀀小学', '"引号"学校'];
    const body = names
      .map((n, i) => `S${i},"${n.replace(/"/g, '""')}",甘-01,1,1,1,Asia/Shanghai,1`)
      .join('\r\n');
    const bytes = iconv.encode(`${HEADER}\r\n${body}\r\n`, 'gb18030');
    const { rows, rejected } = await readAll(bytes, 'gb18030');
    expect(rejected).toEqual([]);
    expect(rows.map((r) => r.fields.name)).toEqual(names);
    expect(rows[0].regionCode).toBe('甘-01');
  });

  it('lets a byte order mark override the declared charset', async () => {
    const utf8 = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(`${HEADER}\nS1,兰州,R,1,1,1,UTC,1\n`),
    ]);
    expect((await readAll(utf8, 'gb18030')).rows[0].fields.name).toBe('兰州');
    const gb = iconv.encode(`\ufeff${HEADER}\nS1,兰州,R,1,1,1,UTC,1\n`, 'gb18030', {
      addBOM: true,
    });
    expect((await readAll(gb, 'utf-8')).rows[0].fields.name).toBe('兰州');
  });

  it('rejects a row with bytes that are not UTF-8, and keeps the others', async () => {
    const gbName = iconv.encode('兰州', 'gbk');
    const csv = Buffer.concat([
      Buffer.from(`${HEADER}\nS1,`),
      gbName,
      Buffer.from(',R,1,1,1,UTC,1\nS2,N,R,1,1,1,UTC,1\n'),
    ]);
    const { rows, rejected } = await readAll(csv);
    expect(rejected).toEqual([
      {
        line: 2,
        code: 'S1',
        field: 'name',
        reason: 'invalid_encoding',
        message: expect.stringMatching(/gb18030/),
      },
    ]);
    expect(rows.map((r) => r.fields.code)).toEqual(['S2']);
  });

  it('refuses UTF-16 with a hint', async () => {
    const err = await readError(
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(HEADER, 'utf16le')]),
    );
    expect(err).toBeInstanceOf(CsvHeaderError);
    expect((err as CsvHeaderError).problems).toEqual([expect.stringMatching(/UTF-16.*CSV UTF-8/)]);
  });
});

describe('readSchoolCsv: the header', () => {
  const problemsOf = async (csv: string) => {
    const err = await readError(csv);
    expect(err).toBeInstanceOf(CsvHeaderError);
    return (err as CsvHeaderError).problems;
  };

  it.each([
    ['semicolons', HEADER.replace(/,/g, ';')],
    ['tabs', HEADER.replace(/,/g, '\t')],
  ])('refuses a file separated by %s with a comma-separated hint', async (_label, header) => {
    expect(await problemsOf(`${header}\n${VALID.replace(/,/g, ';')}\n`)).toEqual([
      expect.stringMatching(/must be comma-separated/),
    ]);
  });

  it('names each missing required column', async () => {
    const header = HEADER.replace(',timezone', '').replace('code,', '');
    expect(await problemsOf(`${header}\n`)).toEqual([
      'missing required column code',
      'missing required column timezone',
    ]);
  });

  it('names an unknown column, and hints at a case slip', async () => {
    expect(await problemsOf(`${HEADER},district,Languages\n`)).toEqual([
      'unknown column "district"',
      'unknown column "Languages" (column names are case-sensitive: did you mean languages?)',
    ]);
  });

  it('refuses a repeated or unnamed column, and trims names', async () => {
    expect(await problemsOf(`${HEADER}, pupils ,\n`)).toEqual([
      'column pupils appears more than once',
      'column 10 has no name',
    ]);
    expect((await readAll(`${HEADER.replace(/,/g, ' , ')}\n${VALID}\n`)).rows).toHaveLength(1);
  });

  it.each([
    ['an empty file', ''],
    ['only blank lines', '\n\r\n  \n'],
    ['only a byte order mark', '\ufeff'],
  ])('refuses %s', async (_label, csv) => {
    expect(await problemsOf(csv)).toEqual([expect.stringMatching(/empty/)]);
  });

  it('hints at the charset when the header itself is not UTF-8', async () => {
    const err = await readError(
      Buffer.concat([Buffer.from(`${HEADER},`), iconv.encode('备注', 'gbk')]),
    );
    expect((err as CsvHeaderError).problems[0]).toMatch(/not valid UTF-8.*charset=gb18030/);
  });

  it('answers a header-only file with no events', async () => {
    expect((await readAll(`${HEADER}\n`)).events).toEqual([]);
  });

  it('throws the header error before yielding any row', async () => {
    const events = readSchoolCsv(Readable.from([`code,name,bogus\n${VALID}\n`]), {});
    await expect(events.next()).rejects.toBeInstanceOf(CsvHeaderError);
  });
});
