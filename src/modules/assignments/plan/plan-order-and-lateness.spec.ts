import { PlanItemInput, comparePlanItems, computeDeliveryPlan } from './delivery-plan';
import { item, school } from './plan.fixture';

describe('computeDeliveryPlan: late', () => {
  // 8 kbit/s = 1000 B/s, always reachable; now is 23:00 local on 2026-11-28 in Shanghai (UTC+8).
  const shanghai = school({ timezone: 'Asia/Shanghai', downlinkKbps: 8 });
  const elevenPmShanghai = new Date('2026-11-28T15:00:00Z');
  const planOne = (bytes: number, dueDate: string | null, s = shanghai, now = elevenPmShanghai) => {
    const [planned] = computeDeliveryPlan(s, [item({ bytes, dueDate })], now).items;
    return planned && [planned.estimatedArrival, planned.late, planned.reasons];
  };

  it('is on time when the last byte lands at 23:59:59 local of the due date', () => {
    expect(planOne(3_599_000, '2026-11-28')).toEqual(['2026-11-28T15:59:59Z', false, []]);
  });

  it('is late when it lands the next local day, though that is still the due date in UTC', () => {
    expect(planOne(3_600_000, '2026-11-28')).toEqual(['2026-11-28T16:00:00Z', true, ['late']]);
  });

  it('judges the reported, rounded-up arrival: 23:59:59.001 local rounds to midnight, late', () => {
    expect(planOne(3_599_001, '2026-11-28')).toEqual(['2026-11-28T16:00:00Z', true, ['late']]);
  });

  it('reads the due date in the school zone west of UTC too', () => {
    // America/Los_Angeles (UTC-8): 07:00Z on the 29th is 23:00 on the 28th locally.
    const la = school({ timezone: 'America/Los_Angeles', downlinkKbps: 8 });
    const now = new Date('2026-11-29T06:00:00Z');
    expect(planOne(3_600_000, '2026-11-28', la, now)).toEqual(['2026-11-29T07:00:00Z', false, []]);
  });

  it('is never late without a due date, however long it takes', () => {
    const slow = school({ downlinkKbps: 0.008 }); // 1 byte per second
    // 1,000,000 s = 11 d 13:46:40 after 2026-11-28T15:00Z.
    expect(planOne(1_000_000, null, slow)).toEqual(['2026-12-10T04:46:40Z', false, []]);
  });

  it('rejects a malformed due date', () => {
    expect(() => planOne(1, '2026-02-30')).toThrow(/invalid dueDate/);
    expect(() => planOne(1, '28/11/2026')).toThrow(/invalid dueDate/);
  });
});

describe('ordering', () => {
  const inputs: PlanItemInput[] = [
    item({ lessonId: 'none-p5', dueDate: null, priority: 5 }),
    item({ lessonId: 'none-p1', dueDate: null, priority: 1 }),
    item({ lessonId: 'dec2-p5-b', dueDate: '2026-12-02', assignedAt: '2026-11-01T00:00:00Z' }),
    // Same instant as dec2-p5-b written with an offset: the tie goes to lessonId.
    item({ lessonId: 'dec2-p5-a', dueDate: '2026-12-02', assignedAt: '2026-11-01T08:00:00+08:00' }),
    // 2026-10-31T23:00Z: earlier as an instant though later as a string.
    item({ lessonId: 'dec2-p5-z', dueDate: '2026-12-02', assignedAt: '2026-11-01T07:00:00+08:00' }),
    item({ lessonId: 'dec2-p2', dueDate: '2026-12-02', priority: 2 }),
    item({ lessonId: 'dec1-p9', dueDate: '2026-12-01', priority: 9 }),
    item({ lessonId: 'same', version: 2 }),
    item({ lessonId: 'same', version: 1 }),
  ];
  const expected = [
    'dec1-p9',
    'dec2-p2',
    'dec2-p5-z',
    'dec2-p5-a',
    'dec2-p5-b',
    'none-p1',
    'none-p5',
    'same@1',
    'same@2',
  ];
  const order = (items: PlanItemInput[]) =>
    computeDeliveryPlan(school(), items, new Date('2026-11-28T00:00:00Z')).items.map((i) =>
      i.lessonId === 'same' ? `same@${i.version}` : i.lessonId,
    );

  it('sorts by due date (none last), priority, assignedAt instant, lessonId, version', () => {
    expect(order(inputs)).toEqual(expected);
  });

  it('gives the same plan for any input order and leaves the input untouched', () => {
    const reference = computeDeliveryPlan(school({ downlinkKbps: 3 }), inputs, new Date(0));
    const copy = structuredClone(inputs);
    let seed = 7;
    for (let round = 0; round < 20; round++) {
      const shuffled = [...inputs];
      for (let i = shuffled.length - 1; i > 0; i--) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const j = seed % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      expect(computeDeliveryPlan(school({ downlinkKbps: 3 }), shuffled, new Date(0))).toEqual(
        reference,
      );
    }
    expect(inputs).toEqual(copy);
  });

  it('compares ids by code unit, not by locale', () => {
    const upper = item({ lessonId: 'B' });
    const lower = item({ lessonId: 'a' });
    expect(comparePlanItems(upper, lower)).toBeLessThan(0);
  });

  it('rejects an unparseable assignedAt', () => {
    expect(() => order([item(), item({ lessonId: 'x', assignedAt: 'yesterday' })])).toThrow(
      /invalid assignedAt/,
    );
  });
});

describe('unreachable and horizon', () => {
  const due = item({ lessonId: 'due', dueDate: '2026-12-01' });
  const undated = item({ lessonId: 'undated' });
  const tooBig = item({ lessonId: 'too-big', bytes: 2000 });
  const small = { storageCapacityBytes: 2500 };
  const summary = (s: ReturnType<typeof school>, items: PlanItemInput[], now: Date) =>
    computeDeliveryPlan(s, items, now).items.map((i) => [
      i.lessonId,
      i.estimatedArrival,
      i.late,
      i.reasons,
    ]);

  it.each([
    ['no downlink', school({ downlinkKbps: 0, ...small })],
    ['a zero monthly cap', school({ monthlyCapBytes: 0, ...small })],
  ])('with %s nothing arrives; dated items are late; storage still comes first', (_, s) => {
    expect(summary(s, [undated, tooBig, due], new Date('2026-11-28T00:00:00Z'))).toEqual([
      // 1000 + 2000 overflows 2500; 1000 + 1000 does not.
      ['due', null, true, ['unreachable', 'late']],
      ['too-big', null, false, ['exceeds_storage']],
      ['undated', null, false, ['unreachable']],
    ]);
  });

  // 8 kbit/s = 1000 B/s. 2026-01-01 to 2031-01-01 is 1826 days = 157,766,400 s.
  const fiveYearsOfBytes = 157_766_400_000;
  const newYear = new Date('2026-01-01T00:00:00Z');

  it('still plans an item that lands exactly at the five-year horizon', () => {
    const plan = summary(school({ downlinkKbps: 8 }), [item({ bytes: fiveYearsOfBytes })], newYear);
    expect(plan).toEqual([['lesson-a', '2031-01-01T00:00:00Z', false, []]]);
  });

  it('gives up past the horizon: null arrival, beyond_horizon, late only if due before it', () => {
    const items = [
      item({ lessonId: 'huge', bytes: fiveYearsOfBytes + 1, dueDate: '2030-06-01' }),
      item({ lessonId: 'due-later', bytes: 1, dueDate: '2032-01-01' }),
      item({ lessonId: 'undated', bytes: 1 }),
    ];
    expect(summary(school({ downlinkKbps: 8 }), items, newYear)).toEqual([
      ['huge', null, true, ['beyond_horizon', 'late']],
      ['due-later', null, false, ['beyond_horizon']],
      ['undated', null, false, ['beyond_horizon']],
    ]);
  });

  it('reaches the horizon quickly through five years of nightly windows', () => {
    const s = school({
      timezone: 'America/New_York',
      downlinkKbps: 1,
      windows: [{ start: '01:00', end: '02:00' }],
      monthlyCapBytes: 1e12,
    });
    const started = performance.now();
    const plan = summary(s, [item({ bytes: 1e12 })], newYear);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(plan).toEqual([['lesson-a', null, false, ['beyond_horizon']]]);
  });
});

describe('bad input', () => {
  const now = new Date('2026-11-28T00:00:00Z');
  it.each([
    ['negative downlink', school({ downlinkKbps: -1 }), [item()], /downlinkKbps/],
    ['NaN downlink', school({ downlinkKbps: NaN }), [item()], /downlinkKbps/],
    ['fractional cap', school({ monthlyCapBytes: 1.5 }), [item()], /monthlyCapBytes/],
    ['negative held bytes', school({ heldBytes: -1 }), [item()], /heldBytes/],
    ['fractional item size', school(), [item({ bytes: 0.5 })], /bytes of lesson-a/],
    ['NaN priority', school(), [item({ priority: NaN })], /priority/],
    ['unknown zone', school({ timezone: 'Asia/Atlantis' }), [item()], /time zone/],
    ['bad window', school({ windows: [{ start: '22h', end: '06:00' }] }), [], /window time/],
  ])('rejects %s with a RangeError', (_, s, items, message) => {
    expect(() => computeDeliveryPlan(s, items, now)).toThrow(RangeError);
    expect(() => computeDeliveryPlan(s, items, now)).toThrow(message);
  });

  it('rejects an invalid now', () => {
    expect(() => computeDeliveryPlan(school(), [], new Date(NaN))).toThrow(/invalid now/);
  });

  it('plans nothing for no items', () => {
    expect(computeDeliveryPlan(school({ heldBytes: 7 }), [], now)).toEqual({
      storage: { capacityBytes: 1e15, plannedBytes: 7, fits: true },
      items: [],
    });
  });
});
