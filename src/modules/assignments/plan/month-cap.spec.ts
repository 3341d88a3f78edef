import { IANAZone } from 'luxon';
import { computeDeliveryPlan } from './delivery-plan';
import { startOfNextLocalMonth } from './month-cap';
import { item, numbered, school } from './plan.fixture';

describe('startOfNextLocalMonth', () => {
  it.each([
    ['Asia/Shanghai', '2026-11-28T04:00:00Z', '2026-11-30T16:00:00.000Z'],
    // 2026-11-30T16:00Z is already 1 December in Shanghai.
    ['Asia/Shanghai', '2026-11-30T16:00:00Z', '2026-12-31T16:00:00.000Z'],
    ['America/New_York', '2026-03-15T12:00:00Z', '2026-04-01T04:00:00.000Z'], // EDT
    ['America/New_York', '2026-12-15T12:00:00Z', '2027-01-01T05:00:00.000Z'], // EST
    ['UTC', '2028-02-29T23:59:59Z', '2028-03-01T00:00:00.000Z'],
  ])('in %s after %s is %s', (zone, at, expected) => {
    const ms = startOfNextLocalMonth(IANAZone.create(zone), Date.parse(at));
    expect(new Date(ms).toISOString()).toBe(expected);
  });
});

describe('computeDeliveryPlan: monthly cap', () => {
  // 800,000 kbit/s = 100 MB/s, always reachable; noon on 2026-11-28 in Shanghai.
  const capped = (overrides = {}) =>
    school({
      timezone: 'Asia/Shanghai',
      downlinkKbps: 800_000,
      monthlyCapBytes: 1e9,
      bytesSentThisMonth: 9e8,
      ...overrides,
    });
  const noonShanghai = new Date('2026-11-28T04:00:00Z');
  const summary = (items: ReturnType<typeof computeDeliveryPlan>['items']) =>
    items.map((i) => [i.estimatedArrival, i.reasons]);

  it('sends what is left of the month, pauses until 00:00 local on the 1st, then the rest', () => {
    // 100 MB by 04:00:01Z; 1 December 00:00 Shanghai = 2026-11-30T16:00Z; 200 MB more = 2 s.
    const plan = computeDeliveryPlan(capped(), [item({ bytes: 3e8 })], noonShanghai);
    expect(summary(plan.items)).toEqual([['2026-11-30T16:00:02Z', ['waits_for_monthly_cap']]]);
  });

  it('adds late when the pause pushes the item past its due date', () => {
    const plan = computeDeliveryPlan(
      capped(),
      [item({ bytes: 3e8, dueDate: '2026-11-30' })],
      noonShanghai,
    );
    expect(plan.items[0]).toMatchObject({
      estimatedArrival: '2026-11-30T16:00:02Z', // 00:00:02 on 1 December locally
      late: true,
      reasons: ['waits_for_monthly_cap', 'late'],
    });
  });

  it('flags only the items whose own transmission waited', () => {
    // The first item uses the budget exactly; the second waits from its first byte; the third
    // follows the second without waiting for the cap itself.
    const plan = computeDeliveryPlan(capped(), numbered(3, 1e8), noonShanghai);
    expect(summary(plan.items)).toEqual([
      ['2026-11-28T04:00:01Z', []],
      ['2026-11-30T16:00:01Z', ['waits_for_monthly_cap']],
      ['2026-11-30T16:00:02Z', []],
    ]);
  });

  it('gives every later month the full cap', () => {
    // 2.5 GB with a 1 GB cap: 1 GB in November, 1 GB in December, 0.5 GB from 1 January local.
    const plan = computeDeliveryPlan(
      capped({ bytesSentThisMonth: 0 }),
      [item({ bytes: 2.5e9 })],
      noonShanghai,
    );
    expect(summary(plan.items)).toEqual([['2026-12-31T16:00:05Z', ['waits_for_monthly_cap']]]);
  });

  it('waits for the next month when the cap is already overspent', () => {
    const plan = computeDeliveryPlan(
      capped({ bytesSentThisMonth: 1.2e9 }),
      [item({ bytes: 1e8 })],
      noonShanghai,
    );
    expect(summary(plan.items)).toEqual([['2026-11-30T16:00:01Z', ['waits_for_monthly_cap']]]);
  });

  it('resumes at the first window of the new month, not at midnight', () => {
    // 20:00-22:00 Shanghai = 12:00Z-14:00Z; 1 December 20:00 local = 2026-12-01T12:00Z.
    const plan = computeDeliveryPlan(
      capped({ windows: [{ start: '20:00', end: '22:00' }] }),
      [item({ bytes: 3e8 })],
      new Date('2026-11-28T12:00:00Z'),
    );
    expect(summary(plan.items)).toEqual([['2026-12-01T12:00:02Z', ['waits_for_monthly_cap']]]);
  });

  it('resumes at midnight when a night window spans the month change', () => {
    const plan = computeDeliveryPlan(
      capped({ windows: [{ start: '22:00', end: '06:00' }] }),
      [item({ bytes: 3e8 })],
      new Date('2026-11-30T15:00:00Z'), // 23:00 on 30 November locally
    );
    expect(summary(plan.items)).toEqual([['2026-11-30T16:00:02Z', ['waits_for_monthly_cap']]]);
  });

  it('crosses the month change without a pause when the budget has room', () => {
    // 8 kbit/s = 1000 B/s; 2000 B from 1 s before local midnight.
    const plan = computeDeliveryPlan(
      capped({ downlinkKbps: 8, monthlyCapBytes: 1e12, bytesSentThisMonth: 0 }),
      [item({ bytes: 2000 })],
      new Date('2026-11-30T15:59:59Z'),
    );
    expect(summary(plan.items)).toEqual([['2026-11-30T16:00:01Z', []]]);
  });
});
