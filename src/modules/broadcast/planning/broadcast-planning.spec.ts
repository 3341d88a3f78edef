import { blendLoss, cycleBytes, decide, overheadForLoss, PACKET_OVERHEAD } from './cost';
import { scheduleCarousel } from './carousel';
import { groupFiles, planBroadcast, SchoolNeed } from './grouping';

const MB = 1024 * 1024;

describe('repair overhead from loss', () => {
  it('is about 8 % for 5 % loss and grows with the loss', () => {
    expect(overheadForLoss(0.05)).toBeGreaterThan(0.075);
    expect(overheadForLoss(0.05)).toBeLessThan(0.09);
    expect(overheadForLoss(0.01)).toBeLessThan(overheadForLoss(0.05));
    expect(overheadForLoss(0.2)).toBeGreaterThan(0.3);
  });
  it('clamps nonsense loss', () => {
    expect(overheadForLoss(-1)).toBe(overheadForLoss(0));
    expect(overheadForLoss(Number.NaN)).toBe(overheadForLoss(0));
    expect(overheadForLoss(0.99)).toBe(overheadForLoss(0.5));
  });
  it('blends receipts so one outlier does not swing a region', () => {
    expect(blendLoss(null, 0.05)).toBe(0.05);
    expect(blendLoss(0.05, 0.5)).toBeCloseTo(0.14, 4);
    expect(blendLoss(0.05, 2)).toBeCloseTo(0.24, 4);
  });
});

describe('broadcast or unicast', () => {
  const base = { bytes: 20 * MB, overhead: 0.08, cycles: 2, repairFraction: 0.01, minSchools: 2 };
  it('one school goes unicast', () => {
    expect(decide({ ...base, schools: 1 })).toMatchObject({
      via: 'unicast',
      reason: 'too_few_schools',
      unicastBytes: 20 * MB,
    });
  });
  it('two schools are cheaper by unicast than two carousel cycles', () => {
    expect(decide({ ...base, schools: 2 })).toMatchObject({
      via: 'unicast',
      reason: 'unicast_cheaper',
    });
  });
  it('many schools go by broadcast, at a cost flat in the number of schools (but for repair)', () => {
    const d100 = decide({ ...base, schools: 100 });
    const d10k = decide({ ...base, schools: 10_000, repairFraction: 0 });
    expect(d100).toMatchObject({ via: 'broadcast', reason: 'broadcast_cheaper' });
    expect(d10k.broadcastBytes).toBe(Math.ceil(2 * 20 * MB * 1.08 * PACKET_OVERHEAD));
    expect(d10k.unicastBytes).toBe(10_000 * 20 * MB);
  });
  it('a cycle carries the objects, their repair symbols and the headers', () => {
    expect(cycleBytes(1000 * 1400, 0.1)).toBe(Math.ceil(1000 * 1400 * 1.1 * PACKET_OVERHEAD));
  });
});

describe('grouping needs into broadcast items and bundles', () => {
  const file = (sha: string, size: number, lessonId: string) => ({
    sha256: sha.repeat(64).slice(0, 64),
    size,
    mediaType: 'video/mp4',
    targets: [{ lessonId, version: 1, path: `${lessonId}.mp4` }],
  });
  const need = (schoolId: string, lessons: string[], overhead = 0.08): SchoolNeed => ({
    schoolId,
    overhead,
    lessons: lessons.map((l, i) => ({
      lessonId: l,
      version: 1,
      dueDate: `2026-12-0${i + 1}`,
      files: [file(l, 5 * MB, l)],
    })),
  });
  const options = { cycles: 2, repairFraction: 0.01, minSchools: 2 };

  it('groups by lesson bytes and audience, deciding each item', () => {
    const needs = [
      need('s1', ['a', 'b']),
      need('s2', ['a', 'b']),
      need('s3', ['a', 'b'], 0.2),
      need('s4', ['a']),
      need('s5', ['c']),
    ];
    const { items, groups } = planBroadcast(needs, options);
    const a = items.find((i) => i.lessonId === 'a')!;
    const b = items.find((i) => i.lessonId === 'b')!;
    const c = items.find((i) => i.lessonId === 'c')!;
    expect(a.schoolIds).toEqual(['s1', 's2', 's3', 's4']);
    expect(a.overhead).toBe(0.2);
    expect(a.decision.via).toBe('broadcast');
    expect(b.decision.via).toBe('broadcast');
    expect(c.decision).toMatchObject({ via: 'unicast', reason: 'too_few_schools' });
    expect(groups.map((g) => g.schoolIds)).toEqual([
      ['s1', 's2', 's3', 's4'],
      ['s1', 's2', 's3'],
    ]);
    expect(groupFiles(groups[0]).map((f) => f.size)).toEqual([5 * MB]);
  });

  it('the same lesson in other bytes (another device profile) is another item', () => {
    const other: SchoolNeed = {
      schoolId: 's9',
      overhead: 0.08,
      lessons: [{ lessonId: 'a', version: 1, dueDate: null, files: [file('f', 2 * MB, 'a')] }],
    };
    const { items } = planBroadcast([need('s1', ['a']), other], options);
    expect(items.filter((i) => i.lessonId === 'a')).toHaveLength(2);
    expect(items.every((i) => i.decision.via === 'unicast')).toBe(true);
  });

  it('is deterministic whatever the input order', () => {
    const needs = [need('s2', ['a', 'b']), need('s1', ['b', 'a']), need('s3', ['a'])];
    const one = planBroadcast(needs, options);
    const two = planBroadcast([...needs].reverse(), options);
    expect(JSON.stringify(two)).toBe(JSON.stringify(one));
  });
});

describe('the carousel schedule', () => {
  const now = Date.parse('2026-11-28T12:00:00Z');
  const entry = (bundleId: string, dueDate: string | null, sending = false) => ({
    bundleId,
    cycleBytes: 10 * 1000 * 1000,
    cycles: 2,
    dueDate,
    sending,
    createdAt: '2026-11-28T00:00:00Z',
  });

  it('earliest due date first, at the channel rate, on the air first', () => {
    const slots = scheduleCarousel(
      [entry('late', '2026-12-20'), entry('soon', '2026-12-01'), entry('undated', null)],
      { rateKbps: 8000, windows: [], timezone: 'UTC' },
      now,
    );
    expect(slots.map((s) => s.bundleId)).toEqual(['soon', 'late', 'undated']);
    // 10 MB per cycle at 8 Mbit/s is 10 s.
    expect(slots[0]).toEqual({
      bundleId: 'soon',
      startsAt: now,
      firstCycleEndsAt: now + 10_000,
      endsAt: now + 20_000,
    });
    expect(slots[1].startsAt).toBe(now + 20_000);
    const onAir = scheduleCarousel(
      [entry('soon', '2026-12-01'), entry('airing', '2026-12-30', true)],
      { rateKbps: 8000, windows: [], timezone: 'UTC' },
      now,
    );
    expect(onAir[0].bundleId).toBe('airing');
  });

  it('sends only inside the broadcast windows', () => {
    const [slot] = scheduleCarousel(
      [entry('x', null)],
      { rateKbps: 8000, windows: [{ start: '22:00', end: '23:00' }], timezone: 'UTC' },
      now,
    );
    expect(slot.startsAt).toBe(Date.parse('2026-11-28T22:00:00Z'));
    expect(slot.endsAt).toBe(Date.parse('2026-11-28T22:00:20Z'));
  });
});
