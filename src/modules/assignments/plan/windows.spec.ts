import {
  PlanWindow,
  buildSchedule,
  isOpenAt,
  isWindowOpen,
  nextOpenSpan,
  nextWindowChange,
  parseHHMM,
} from './windows';

const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** Successive window edges from `start`, as ISO strings. */
function edges(windows: PlanWindow[], timezone: string, start: string, count: number): string[] {
  const result: string[] = [];
  let cursor: Date | null = at(start);
  for (let i = 0; i < count && cursor; i++) {
    cursor = nextWindowChange(windows, timezone, cursor);
    if (cursor) result.push(cursor.toISOString());
  }
  return result;
}

describe('parseHHMM', () => {
  it.each([
    ['00:00', 0],
    ['06:30', 390],
    ['22:00', 1320],
    ['23:59', 1439],
    ['24:00', 1440],
  ])('reads %s as %d minutes', (input, minutes) => {
    expect(parseHHMM(input)).toBe(minutes);
  });

  it.each(['24:01', '25:00', '7:00', '07:60', '0700', '', ' 07:00', '07:00:00'])(
    'rejects %j',
    (input) => {
      expect(() => parseHHMM(input)).toThrow(RangeError);
    },
  );
});

describe('buildSchedule', () => {
  it('rejects an unknown time zone', () => {
    expect(() => buildSchedule([], 'Mars/Olympus_Mons')).toThrow(/unknown time zone/);
  });

  it.each<[string, PlanWindow[]]>([
    ['no windows', []],
    ['start === end', [{ start: '09:00', end: '09:00' }]],
    ['00:00-24:00', [{ start: '00:00', end: '24:00' }]],
    [
      'two halves that leave no gap',
      [
        { start: '00:00', end: '12:00' },
        { start: '12:00', end: '00:00' },
      ],
    ],
    [
      'overlapping windows around the clock',
      [
        { start: '20:00', end: '10:00' },
        { start: '09:00', end: '21:00' },
      ],
    ],
  ])('is always open with %s', (_name, windows) => {
    expect(buildSchedule(windows, 'Asia/Shanghai').kind).toBe('always');
    expect(isWindowOpen(windows, 'Asia/Shanghai', at('2026-11-28T09:17:00Z'))).toBe(true);
    expect(nextWindowChange(windows, 'Asia/Shanghai', at('2026-11-28T09:17:00Z'))).toBeNull();
  });

  it('merges overlapping and adjacent windows into one interval', () => {
    const schedule = buildSchedule(
      [
        { start: '02:00', end: '04:00' },
        { start: '01:00', end: '03:00' },
        { start: '04:00', end: '05:00' },
        { start: '12:00', end: '13:00' },
      ],
      'UTC',
    );
    expect(schedule).toMatchObject({
      kind: 'daily',
      intervals: [
        [3_600_000, 18_000_000],
        [43_200_000, 46_800_000],
      ],
    });
  });
});

describe('a 22:00-06:00 window in Asia/Shanghai (UTC+8, no DST)', () => {
  const night = [{ start: '22:00', end: '06:00' }];

  it.each([
    ['2026-11-28T13:59:59.999Z', false],
    ['2026-11-28T14:00:00Z', true], // 22:00 local
    ['2026-11-28T16:00:00Z', true], // local midnight: the window carries on
    ['2026-11-28T21:59:59.999Z', true],
    ['2026-11-28T22:00:00Z', false], // 06:00 local
  ])('at %s open is %s', (instant, open) => {
    expect(isWindowOpen(night, 'Asia/Shanghai', at(instant))).toBe(open);
  });

  it('changes at 14:00Z and 22:00Z each day, not at local midnight', () => {
    expect(edges(night, 'Asia/Shanghai', '2026-11-28T04:00:00Z', 4)).toEqual([
      '2026-11-28T14:00:00.000Z',
      '2026-11-28T22:00:00.000Z',
      '2026-11-29T14:00:00.000Z',
      '2026-11-29T22:00:00.000Z',
    ]);
  });

  it('joins a window ending at midnight with one starting at midnight', () => {
    const split = [
      { start: '22:00', end: '24:00' },
      { start: '00:00', end: '02:00' },
    ];
    expect(edges(split, 'Asia/Shanghai', '2026-11-28T04:00:00Z', 2)).toEqual([
      '2026-11-28T14:00:00.000Z',
      '2026-11-28T18:00:00.000Z',
    ]);
  });
});

describe('DST: windows follow the wall clock', () => {
  it('America/New_York 01:00-03:00 on spring-forward day 2026-03-08 lasts one real hour', () => {
    const windows = [{ start: '01:00', end: '03:00' }];
    // 01:00 EST = 06:00Z; at 07:00Z the clock jumps from 02:00 EST to 03:00 EDT and the window ends.
    expect(edges(windows, 'America/New_York', '2026-03-08T05:00:00Z', 4)).toEqual([
      '2026-03-08T06:00:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T05:00:00.000Z', // 01:00 EDT
      '2026-03-09T07:00:00.000Z',
    ]);
  });

  it('America/New_York 02:30-04:00 opens at 03:00 EDT when 02:30 does not exist', () => {
    const windows = [{ start: '02:30', end: '04:00' }];
    expect(edges(windows, 'America/New_York', '2026-03-08T05:00:00Z', 2)).toEqual([
      '2026-03-08T07:00:00.000Z',
      '2026-03-08T08:00:00.000Z',
    ]);
  });

  it('Europe/Berlin 02:00-03:00 on fall-back day 2026-10-25 lasts two real hours', () => {
    const windows = [{ start: '02:00', end: '03:00' }];
    // 02:00 CEST = 00:00Z; at 01:00Z (03:00 CEST) the clock goes back to 02:00 CET; 03:00 CET = 02:00Z.
    expect(edges(windows, 'Europe/Berlin', '2026-10-24T22:00:00Z', 4)).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
      '2026-10-26T01:00:00.000Z',
      '2026-10-26T02:00:00.000Z',
    ]);
    expect(isWindowOpen(windows, 'Europe/Berlin', at('2026-10-25T01:30:00Z'))).toBe(true);
  });

  it('Europe/Berlin 01:00-02:30 on fall-back day opens twice, as the clock reads 02:00-02:30 twice', () => {
    const windows = [{ start: '01:00', end: '02:30' }];
    expect(edges(windows, 'Europe/Berlin', '2026-10-24T22:00:00Z', 4)).toEqual([
      '2026-10-24T23:00:00.000Z', // 01:00 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET
      '2026-10-25T01:30:00.000Z', // 02:30 CET
    ]);
  });
});

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('nextOpenSpan agrees with isOpenAt', () => {
  const zones = [
    'America/New_York',
    'Europe/Berlin',
    'Australia/Lord_Howe', // 30-minute DST shift
    'America/Santiago', // changes at local midnight
    'Pacific/Chatham', // +12:45 / +13:45
    'Asia/Shanghai',
  ];
  const schedules: PlanWindow[][] = [
    [{ start: '22:00', end: '06:00' }],
    [{ start: '01:30', end: '02:30' }],
    [
      { start: '00:00', end: '00:30' },
      { start: '23:15', end: '23:45' },
    ],
    [
      { start: '02:00', end: '03:00' },
      { start: '12:00', end: '13:00' },
    ],
  ];

  it.each(zones)('in %s, around DST changes', (zone) => {
    const next = random(zone.length);
    // Instants clustered around the 2026 DST changes of both hemispheres.
    const anchors = [Date.UTC(2026, 2, 8), Date.UTC(2026, 3, 5), Date.UTC(2026, 8, 27)];
    anchors.push(Date.UTC(2026, 9, 25), Date.UTC(2026, 10, 1));
    for (const windows of schedules) {
      const schedule = buildSchedule(windows, zone);
      for (let i = 0; i < 200; i++) {
        const anchor = anchors[i % anchors.length] ?? 0;
        const fromMs = anchor + Math.floor((next() - 0.5) * 3 * 86_400_000);
        const { startMs, endMs } = nextOpenSpan(schedule, fromMs);
        const open = (ms: number) => isOpenAt(schedule, ms);
        const wrong: string[] = [];
        const check = (ms: number, expected: boolean) => {
          if (open(ms) !== expected)
            wrong.push(`${new Date(ms).toISOString()} should be ${expected}`);
        };
        expect(startMs).toBeGreaterThanOrEqual(fromMs);
        check(fromMs, startMs === fromMs);
        check(startMs, true);
        check(endMs - 1, true);
        check(endMs, false);
        if (startMs > fromMs) check(startMs - 1, false);
        // Closed throughout the gap, open throughout the span (sampled every 10 minutes).
        for (let t = fromMs; t < startMs; t += 600_000) check(t, false);
        for (let t = startMs; t < endMs; t += 600_000) check(t, true);
        expect({ windows, from: new Date(fromMs).toISOString(), wrong }).toEqual({
          windows,
          from: new Date(fromMs).toISOString(),
          wrong: [],
        });
      }
    }
  });
});

describe('bad input', () => {
  it('rejects an invalid date', () => {
    expect(() => isWindowOpen([{ start: '01:00', end: '02:00' }], 'UTC', new Date(NaN))).toThrow(
      RangeError,
    );
  });

  it('reports no change for an always-open link', () => {
    expect(iso(nextWindowChange([], 'UTC', at('2026-01-01T00:00:00Z')))).toBeNull();
  });
});
