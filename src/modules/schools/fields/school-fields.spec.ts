import {
  SchoolFields,
  checkSchoolFields,
  checkTeacherGaps,
  checkWindows,
  isHHMM,
  isTimezone,
  normaliseGaps,
  normaliseSchoolFields,
} from './school-fields';

function school(): SchoolFields {
  return {
    code: 'GS-LZ-001',
    name: '兰州市第一小学',
    pupils: 420,
    grades: [1, 2, 3, 4, 5, 6],
    languages: ['zh-CN', 'ug'],
    teacherGaps: [{ subject: 'english', grades: [3, 4, 5, 6] }],
    link: {
      downlinkKbps: 2048,
      windows: [{ start: '22:00', end: '06:00' }],
      timezone: 'Asia/Shanghai',
      monthlyCapMb: 20000,
      broadcastReceiver: true,
    },
    storageCapacityMb: 500000,
    device: { maxVideoHeight: 480, videoCodecs: ['h264', 'hevc'], imageFormats: ['webp', 'png'] },
  };
}

// JSON can deliver any shape, so these tests hand checkSchoolFields values its type forbids.
type Json = any;

/** A valid school with one change applied through a plain object, as JSON would deliver it. */
function withChange(change: (s: Json) => void): SchoolFields {
  const s = school();
  change(s);
  return s;
}

describe('isTimezone', () => {
  it.each(['Asia/Shanghai', 'Asia/Urumqi', 'UTC', 'Etc/UTC', 'Etc/GMT-8', 'America/New_York'])(
    'accepts the IANA name %j',
    (zone) => expect(isTimezone(zone)).toBe(true),
  );

  it.each([
    '+08:00',
    '-05:00',
    'UTC+8',
    'UTC+08:00',
    'GMT+8',
    'utc-3',
    'Mars/Olympus_Mons',
    '',
    ' Asia/Shanghai',
    'Asia/Shanghai ',
    8,
    null,
  ])('rejects %j', (zone) => expect(isTimezone(zone)).toBe(false));
});

describe('isHHMM', () => {
  it.each(['00:00', '06:30', '23:59'])('accepts %j', (t) => expect(isHHMM(t)).toBe(true));
  it.each(['24:00', '6:00', '12:60', '1200', '12:00:00', ' 12:00', 1200, undefined])(
    'rejects %j',
    (t) => expect(isHHMM(t)).toBe(false),
  );
});

describe('checkWindows', () => {
  it('accepts windows that cross midnight and an empty list', () => {
    expect(
      checkWindows([
        { start: '22:00', end: '06:00' },
        { start: '12:00', end: '13:00' },
      ]),
    ).toEqual([]);
    expect(checkWindows([])).toEqual([]);
  });

  it('names the bad end of a window by its path', () => {
    expect(
      checkWindows([
        { start: '22:00', end: '06:00' },
        { start: '25:00', end: '06:00' },
      ]),
    ).toEqual([
      { field: 'link.windows.1.start', message: expect.stringMatching(/"25:00".*00:00 to 23:59/) },
    ]);
    expect(checkWindows([{ start: '18:00', end: '24:00' }], 'windows')).toEqual([
      { field: 'windows.0.end', message: expect.stringMatching(/midnight as 00:00/) },
    ]);
  });

  it('refuses a window without a length', () => {
    expect(checkWindows([{ start: '08:00', end: '08:00' }])).toEqual([
      { field: 'link.windows.0', message: expect.stringMatching(/must have a length/) },
    ]);
  });

  it('refuses more than 24 windows, a non-list and a non-object', () => {
    const many = Array.from({ length: 25 }, (_, h) => ({
      start: '00:00',
      end: `00:${String(h + 1).padStart(2, '0')}`,
    }));
    expect(checkWindows(many)).toEqual([
      { field: 'link.windows', message: expect.stringMatching(/at most 24/) },
    ]);
    expect(checkWindows('22:00-06:00')).toEqual([
      { field: 'link.windows', message: expect.any(String) },
    ]);
    expect(checkWindows(['22:00-06:00'])).toEqual([
      { field: 'link.windows.0', message: expect.any(String) },
    ]);
  });
});

describe('checkTeacherGaps', () => {
  it('accepts standard and bureau-defined subjects', () => {
    expect(
      checkTeacherGaps([
        { subject: 'english', grades: [3, 4] },
        { subject: 'x-tibetan', grades: [1] },
      ]),
    ).toEqual([]);
  });

  it.each([
    ['an unknown subject', [{ subject: 'astrology', grades: [1] }], 'teacherGaps.0.subject'],
    ['an uppercase subject', [{ subject: 'English', grades: [1] }], 'teacherGaps.0.subject'],
    ['no grades', [{ subject: 'music', grades: [] }], 'teacherGaps.0.grades'],
    ['grade 0', [{ subject: 'music', grades: [0] }], 'teacherGaps.0.grades.0'],
    ['grade 13', [{ subject: 'music', grades: [1, 13] }], 'teacherGaps.0.grades.1'],
    ['a fractional grade', [{ subject: 'music', grades: [1.5] }], 'teacherGaps.0.grades.0'],
    ['a grade twice', [{ subject: 'music', grades: [2, 2] }], 'teacherGaps.0.grades.1'],
    [
      'a subject twice',
      [
        { subject: 'pe', grades: [1] },
        { subject: 'pe', grades: [2] },
      ],
      'teacherGaps.1.subject',
    ],
    ['a string', 'english:3-6', 'teacherGaps'],
  ])('refuses %s', (_label, gaps, field) => {
    expect(checkTeacherGaps(gaps)).toEqual([{ field, message: expect.any(String) }]);
  });
});

describe('normaliseGaps', () => {
  it('sorts subjects, sorts and dedupes grades, merges a repeated subject', () => {
    expect(
      normaliseGaps([
        { subject: 'music', grades: [3, 1, 3] },
        { subject: 'english', grades: [6, 5] },
        { subject: 'music', grades: [2] },
      ]),
    ).toEqual([
      { subject: 'english', grades: [5, 6] },
      { subject: 'music', grades: [1, 2, 3] },
    ]);
  });
});

describe('checkSchoolFields', () => {
  it('accepts a complete valid school', () => {
    expect(checkSchoolFields(school())).toEqual([]);
  });

  it.each([
    '=HYPERLINK("http://x")',
    '<script>alert(1)</script>',
    '  padded  ',
    'ئۇيغۇرچە مەكتەپ',
    '第一小学\n分校',
    'x'.repeat(200),
    '📚'.repeat(200),
  ])('accepts the name %j exactly as given', (name) => {
    expect(checkSchoolFields(withChange((s) => (s.name = name)))).toEqual([]);
  });

  it('accepts no monthly cap (null or omitted), no windows and no gaps', () => {
    expect(checkSchoolFields(withChange((s) => (s.link.monthlyCapMb = null)))).toEqual([]);
    expect(checkSchoolFields(withChange((s) => delete s.link.monthlyCapMb))).toEqual([]);
    expect(
      checkSchoolFields(withChange((s) => ((s.link.windows = []), (s.teacherGaps = [])))),
    ).toEqual([]);
  });

  it.each<[string, (s: Json) => void, string]>([
    ['an empty code', (s) => (s.code = ''), 'code'],
    ['a code with a space', (s) => (s.code = 'GS 001'), 'code'],
    ['a 65-character code', (s) => (s.code = 'a'.repeat(65)), 'code'],
    ['an empty name', (s) => (s.name = ''), 'name'],
    ['a blank name', (s) => (s.name = '   '), 'name'],
    ['a 201-character name', (s) => (s.name = 'x'.repeat(201)), 'name'],
    ['a name with NUL', (s) => (s.name = 'a\u0000b'), 'name'],
    ['a name with a lone surrogate', (s) => (s.name = 'a\ud800b'), 'name'],
    ['pupils -1', (s) => (s.pupils = -1), 'pupils'],
    ['pupils 1.5', (s) => (s.pupils = 1.5), 'pupils'],
    ['pupils 100001', (s) => (s.pupils = 100001), 'pupils'],
    ['pupils as a string', (s) => (s.pupils = '420'), 'pupils'],
    ['no grades', (s) => (s.grades = []), 'grades'],
    ['grade 0', (s) => (s.grades = [0, 1]), 'grades.0'],
    ['grade 13', (s) => (s.grades = [12, 13]), 'grades.1'],
    ['a grade twice', (s) => (s.grades = [1, 1, 2, 3, 4, 5, 6]), 'grades.1'],
    ['no languages', (s) => (s.languages = []), 'languages'],
    ['a malformed language', (s) => (s.languages = ['zh-CN', 'not a tag']), 'languages.1'],
    ['a language twice', (s) => (s.languages = ['zh-CN', 'zh-cn']), 'languages.1'],
    [
      '11 languages',
      (s) => (s.languages = ['zh', 'ug', 'bo', 'mn', 'ii', 'za', 'ko', 'kk', 'ky', 'en', 'ru']),
      'languages',
    ],
    [
      'an unknown gap subject',
      (s) => (s.teacherGaps = [{ subject: 'astrology', grades: [1] }]),
      'teacherGaps.0.subject',
    ],
    [
      'a gap for a grade not taught',
      (s) => (s.teacherGaps = [{ subject: 'english', grades: [6, 7] }]),
      'teacherGaps.0.grades.1',
    ],
    ['downlink -1', (s) => (s.link.downlinkKbps = -1), 'link.downlinkKbps'],
    ['downlink above 10 Gbit/s', (s) => (s.link.downlinkKbps = 10_000_001), 'link.downlinkKbps'],
    [
      'a window 25:00-06:00',
      (s) => (s.link.windows = [{ start: '25:00', end: '06:00' }]),
      'link.windows.0.start',
    ],
    ['timezone +08:00', (s) => (s.link.timezone = '+08:00'), 'link.timezone'],
    ['timezone UTC+8', (s) => (s.link.timezone = 'UTC+8'), 'link.timezone'],
    ['a negative monthly cap', (s) => (s.link.monthlyCapMb = -1), 'link.monthlyCapMb'],
    ['a fractional monthly cap', (s) => (s.link.monthlyCapMb = 0.5), 'link.monthlyCapMb'],
    [
      'broadcastReceiver "yes"',
      (s) => (s.link.broadcastReceiver = 'yes'),
      'link.broadcastReceiver',
    ],
    ['storage above 100 TB', (s) => (s.storageCapacityMb = 100_000_001), 'storageCapacityMb'],
    ['maxVideoHeight 1080', (s) => (s.device.maxVideoHeight = 1080), 'device.maxVideoHeight'],
    ['no video codecs', (s) => (s.device.videoCodecs = []), 'device.videoCodecs'],
    ['an unknown video codec', (s) => (s.device.videoCodecs = ['mpeg2']), 'device.videoCodecs.0'],
    ['a codec twice', (s) => (s.device.videoCodecs = ['h264', 'h264']), 'device.videoCodecs.1'],
    [
      'an unknown image format',
      (s) => (s.device.imageFormats = ['webp', 'bmp']),
      'device.imageFormats.1',
    ],
  ])('refuses %s', (_label, change, field) => {
    expect(checkSchoolFields(withChange(change))).toEqual([{ field, message: expect.any(String) }]);
  });

  it('reports every problem at once, in body order', () => {
    const problems = checkSchoolFields(
      withChange((s) => {
        s.device.maxVideoHeight = 1080;
        s.code = '';
        s.link.timezone = '+08:00';
      }),
    );
    expect(problems.map((p) => p.field)).toEqual([
      'code',
      'link.timezone',
      'device.maxVideoHeight',
    ]);
  });

  it('reports a malformed shape instead of throwing', () => {
    const problems = checkSchoolFields({} as SchoolFields);
    expect(problems.map((p) => p.field)).toEqual(
      expect.arrayContaining(['code', 'name', 'link.timezone', 'device.maxVideoHeight']),
    );
  });
});

describe('normaliseSchoolFields', () => {
  it('canonicalises languages, sorts grades and gaps, keeps text as given', () => {
    const input = withChange((s) => {
      s.name = '  =1+1 ';
      s.grades = [6, 1, 3];
      s.languages = ['zh-cn', 'UG'];
      s.teacherGaps = [
        { subject: 'music', grades: [3, 1] },
        { subject: 'art', grades: [6] },
      ];
      delete s.link.monthlyCapMb;
    });
    const out = normaliseSchoolFields(input);
    expect(out).toMatchObject({
      name: '  =1+1 ',
      grades: [1, 3, 6],
      languages: ['zh-CN', 'ug'],
      teacherGaps: [
        { subject: 'art', grades: [6] },
        { subject: 'music', grades: [1, 3] },
      ],
      link: { monthlyCapMb: null },
    });
    expect(input.grades).toEqual([6, 1, 3]);
  });
});
