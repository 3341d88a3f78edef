import { computeDeliveryPlan } from './delivery-plan';
import { item, numbered, school, sized } from './plan.fixture';

const NOW = new Date('2026-11-28T00:00:00Z');
const arrivals = (items: { estimatedArrival: string | null }[]) =>
  items.map((i) => i.estimatedArrival);

describe('computeDeliveryPlan: transmission time', () => {
  it('sends 1 GB in exactly 1000 s at 8 Mbit/s, items back to back', () => {
    const plan = computeDeliveryPlan(school(), numbered(2, 1e9), NOW);
    expect(arrivals(plan.items)).toEqual(['2026-11-28T00:16:40Z', '2026-11-28T00:33:20Z']);
    expect(plan.items[0]).toEqual({
      lessonId: 'lesson-0',
      version: 1,
      bytes: 1e9,
      dueDate: null,
      priority: 5,
      estimatedArrival: '2026-11-28T00:16:40Z',
      late: false,
      fits: true,
      reasons: [],
    });
  });

  it('rounds each arrival up to the second without letting rounding accumulate', () => {
    // 1 byte at 3 kbit/s takes 8/3 ms: item n arrives at n * 8/3 ms, exactly 8 s for item 3000.
    const plan = computeDeliveryPlan(school({ downlinkKbps: 3 }), numbered(3000, 1), NOW);
    const at = (n: number) => plan.items[n - 1]?.estimatedArrival;
    expect(at(1)).toBe('2026-11-28T00:00:01Z');
    expect(at(375)).toBe('2026-11-28T00:00:01Z'); // exactly 1000 ms
    expect(at(376)).toBe('2026-11-28T00:00:02Z');
    expect(at(1500)).toBe('2026-11-28T00:00:04Z');
    expect(at(3000)).toBe('2026-11-28T00:00:08Z');
  });

  it('counts an empty item as arrived once everything before it has', () => {
    const nights = school({ downlinkKbps: 8, windows: [{ start: '22:00', end: '06:00' }] });
    const plan = computeDeliveryPlan(nights, sized(0, 1000, 0), new Date('2026-11-28T12:00:00Z'));
    expect(arrivals(plan.items)).toEqual([
      '2026-11-28T12:00:00Z',
      '2026-11-28T22:00:01Z',
      '2026-11-28T22:00:01Z',
    ]);
  });

  it('starts from now to the millisecond and rounds up', () => {
    const now = new Date('2026-11-28T00:00:00.500Z');
    const plan = computeDeliveryPlan(school({ downlinkKbps: 8 }), [item({ bytes: 1000 })], now);
    expect(arrivals(plan.items)).toEqual(['2026-11-28T00:00:02Z']);
  });
});

describe('computeDeliveryPlan: receive windows', () => {
  const shanghaiNights = school({
    timezone: 'Asia/Shanghai',
    windows: [{ start: '22:00', end: '06:00' }],
  });
  const noonShanghai = new Date('2026-11-28T04:00:00Z');

  it('waits for 22:00 local (14:00Z) and carries a 10-hour item over into the next night', () => {
    // 8 Mbit/s = 1 MB/s. A: 1 s. B: 36,000 s; 28,799 s fit in the first night (until 22:00Z),
    // the other 7,201 s start at 14:00Z the next day.
    const plan = computeDeliveryPlan(shanghaiNights, sized(1e6, 3.6e10), noonShanghai);
    expect(arrivals(plan.items)).toEqual(['2026-11-28T14:00:01Z', '2026-11-29T16:00:01Z']);
    expect(plan.items.map((i) => i.reasons)).toEqual([[], []]);
  });

  it('sends at once when now is inside the window', () => {
    const plan = computeDeliveryPlan(
      shanghaiNights,
      [item({ bytes: 1e6 })],
      new Date('2026-11-28T15:00:00Z'),
    );
    expect(arrivals(plan.items)).toEqual(['2026-11-28T15:00:01Z']);
  });

  it('fills a night exactly, then the next byte waits for the next night', () => {
    // 8 h at 1 MB/s, then 1 byte.
    const plan = computeDeliveryPlan(shanghaiNights, sized(2.88e10, 1), noonShanghai);
    expect(arrivals(plan.items)).toEqual(['2026-11-28T22:00:00Z', '2026-11-29T14:00:01Z']);
  });

  it('merges overlapping and adjacent windows instead of counting overlap twice', () => {
    const windows = [
      { start: '01:00', end: '03:00' },
      { start: '02:00', end: '04:00' },
      { start: '04:00', end: '05:00' },
    ];
    // 8 kbit/s = 1000 B/s; 4 h of data needs the whole merged 01:00-05:00 window.
    const plan = computeDeliveryPlan(
      school({ downlinkKbps: 8, windows }),
      [item({ bytes: 14_400_000 })],
      NOW,
    );
    expect(arrivals(plan.items)).toEqual(['2026-11-28T05:00:00Z']);
  });

  it('treats start === end as open all day', () => {
    const plan = computeDeliveryPlan(
      school({ windows: [{ start: '09:00', end: '09:00' }] }),
      [item({ bytes: 1e9 })],
      NOW,
    );
    expect(arrivals(plan.items)).toEqual(['2026-11-28T00:16:40Z']);
  });

  it('America/New_York 01:00-03:00 on 2026-03-08 (spring forward) carries one hour', () => {
    const ny = school({
      timezone: 'America/New_York',
      downlinkKbps: 8,
      windows: [{ start: '01:00', end: '03:00' }],
    });
    const midnightEst = new Date('2026-03-08T05:00:00Z');
    const oneHour = computeDeliveryPlan(ny, [item({ bytes: 3_600_000 })], midnightEst);
    expect(arrivals(oneHour.items)).toEqual(['2026-03-08T07:00:00Z']); // 03:00 EDT
    const oneHourAndASecond = computeDeliveryPlan(ny, [item({ bytes: 3_601_000 })], midnightEst);
    expect(arrivals(oneHourAndASecond.items)).toEqual(['2026-03-09T05:00:01Z']); // 01:00:01 EDT
  });

  it('Europe/Berlin 02:00-03:00 on 2026-10-25 (fall back) carries two hours', () => {
    const berlin = school({
      timezone: 'Europe/Berlin',
      downlinkKbps: 8,
      windows: [{ start: '02:00', end: '03:00' }],
    });
    const midnightCest = new Date('2026-10-24T22:00:00Z');
    const twoHours = computeDeliveryPlan(berlin, [item({ bytes: 7_200_000 })], midnightCest);
    expect(arrivals(twoHours.items)).toEqual(['2026-10-25T02:00:00Z']); // 03:00 CET
    const more = computeDeliveryPlan(berlin, [item({ bytes: 7_201_000 })], midnightCest);
    expect(arrivals(more.items)).toEqual(['2026-10-26T01:00:01Z']); // 02:00:01 CET
  });
});

describe('computeDeliveryPlan: storage', () => {
  it('does not send an item that does not fit, nor report it late', () => {
    // 0.1 kbit/s = 12.5 B/s. Order: d (due date) 200 -> 600, a 500 -> 1100 does not fit, c 100 -> 700.
    // a is due long before it could arrive, but its problem is storage, so it is not late.
    const plan = computeDeliveryPlan(
      school({ downlinkKbps: 0.1, storageCapacityBytes: 1000, heldBytes: 400 }),
      [
        item({ lessonId: 'c', bytes: 100, priority: 3 }),
        item({ lessonId: 'a', bytes: 500, priority: 1, dueDate: '2026-11-29' }),
        item({ lessonId: 'd', bytes: 200, priority: 9, dueDate: '2026-11-28' }),
      ],
      new Date('2026-11-28T23:59:00Z'),
    );
    expect(plan.storage).toEqual({ capacityBytes: 1000, plannedBytes: 700, fits: false });
    expect(
      plan.items.map(({ lessonId, fits, late, reasons, estimatedArrival }) => ({
        lessonId,
        fits,
        late,
        reasons,
        estimatedArrival,
      })),
    ).toEqual([
      // 200 B = 16 s: 23:59:16Z, in time for its due date.
      {
        lessonId: 'd',
        fits: true,
        late: false,
        reasons: [],
        estimatedArrival: '2026-11-28T23:59:16Z',
      },
      {
        lessonId: 'a',
        fits: false,
        late: false,
        reasons: ['exceeds_storage'],
        estimatedArrival: null,
      },
      // 300 B = 24 s: c follows d directly, a took no link time.
      {
        lessonId: 'c',
        fits: true,
        late: false,
        reasons: [],
        estimatedArrival: '2026-11-28T23:59:24Z',
      },
    ]);
  });

  it('walks 500, 200, 100 into 1000 with 400 held: 500 fits, 200 does not, 100 fills the disk', () => {
    const plan = computeDeliveryPlan(
      school({ downlinkKbps: 0.1, storageCapacityBytes: 1000, heldBytes: 400 }),
      [
        item({ lessonId: 'a', bytes: 500, priority: 1 }),
        item({ lessonId: 'b', bytes: 200, priority: 2, dueDate: null }),
        item({ lessonId: 'c', bytes: 100, priority: 3 }),
      ],
      NOW,
    );
    expect(plan.storage).toEqual({ capacityBytes: 1000, plannedBytes: 1000, fits: false });
    expect(plan.items.map((i) => [i.lessonId, i.fits, i.reasons])).toEqual([
      ['a', true, []],
      ['b', false, ['exceeds_storage']],
      ['c', true, []],
    ]);
    // 500 B = 40 s; c follows a directly (b takes no link time): 600 B = 48 s.
    expect(arrivals(plan.items)).toEqual(['2026-11-28T00:00:40Z', null, '2026-11-28T00:00:48Z']);
  });

  it('reports fits when everything fits, counting held bytes', () => {
    const plan = computeDeliveryPlan(
      school({ storageCapacityBytes: 1000, heldBytes: 400 }),
      numbered(3, 200),
      NOW,
    );
    expect(plan.storage).toEqual({ capacityBytes: 1000, plannedBytes: 1000, fits: true });
  });
});

describe('computeDeliveryPlan: performance', () => {
  it('plans 2,000 items of 50 MB at 2 Mbit/s through a 6-hour nightly window quickly', () => {
    // 50 MB at 250,000 B/s = 200 s; a 00:00-06:00 Shanghai night (16:00Z-22:00Z) holds 108 items.
    // Item 2000 ends 400,000 s in: 18 full nights, then 11,200 s (3:06:40) into the 19th.
    const s = school({
      timezone: 'Asia/Shanghai',
      downlinkKbps: 2000,
      windows: [{ start: '00:00', end: '06:00' }],
      monthlyCapBytes: 1e15,
    });
    const items = numbered(2000, 50_000_000);
    const started = performance.now();
    const plan = computeDeliveryPlan(s, items, new Date('2026-11-28T04:00:00Z'));
    const elapsedMs = performance.now() - started;
    expect(plan.items[107]?.estimatedArrival).toBe('2026-11-28T22:00:00Z');
    expect(plan.items[108]?.estimatedArrival).toBe('2026-11-29T16:03:20Z');
    expect(plan.items[1999]?.estimatedArrival).toBe('2026-12-16T19:06:40Z');
    expect(elapsedMs).toBeLessThan(10_000);
  });
});

describe('items a broadcast brings', () => {
  const school = {
    timezone: 'UTC',
    downlinkKbps: 8,
    windows: [],
    monthlyCapBytes: null,
    bytesSentThisMonth: 0,
    storageCapacityBytes: 10_000_000,
    heldBytes: 0,
  };
  const item = (lessonId: string, dueDate: string | null) => ({
    lessonId,
    version: 1,
    bytes: 1_000_000,
    dueDate,
    priority: 5,
    assignedAt: '2026-11-01T00:00:00Z',
  });
  const now = new Date('2026-11-28T12:00:00Z');

  it('arrive with the broadcast, take no unicast link time, and are late only by it', () => {
    const broadcast = new Map([
      ['b:1', Date.parse('2026-11-28T13:00:00.200Z')],
      ['c:1', Date.parse('2026-12-05T00:00:00Z')],
    ]);
    const plan = computeDeliveryPlan(
      school,
      [item('b', '2026-12-01'), item('u', '2026-12-31'), item('c', '2026-12-01')],
      now,
      broadcast,
    );
    const byId = new Map(plan.items.map((i) => [i.lessonId, i]));
    expect(byId.get('b')).toMatchObject({
      estimatedArrival: '2026-11-28T13:00:01Z',
      reasons: ['broadcast'],
      late: false,
    });
    expect(byId.get('c')).toMatchObject({ reasons: ['broadcast', 'late'], late: true });
    // 1 MB at 8 kbit/s is 1,000 s, as if nothing else were on the link.
    expect(byId.get('u')?.estimatedArrival).toBe('2026-11-28T12:16:40Z');
  });
});
