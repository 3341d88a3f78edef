import { TimeOrderedIds, uuidBytes, uuidText } from './time-ordered-ids';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('TimeOrderedIds', () => {
  it('makes RFC 9562 version 7 UUIDs carrying the millisecond they were made in', () => {
    const at = Date.UTC(2026, 10, 28, 12, 0, 0, 123);
    const id = new TimeOrderedIds(() => at).next();
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('never repeats and never goes backwards, within a millisecond or when the clock steps back', () => {
    let clock = 1_800_000_000_000;
    const ticks = [0, 0, 0, -5, -5, 1, 0, 7];
    let tick = 0;
    const ids = new TimeOrderedIds(() => (clock += ticks[tick++ % ticks.length]));
    // More than 4,096 ids in one millisecond spill over into the next one.
    const made = Array.from({ length: 20_000 }, () => ids.next());
    expect(new Set(made).size).toBe(made.length);
    expect(made.findIndex((id, i) => i > 0 && id <= made[i - 1])).toBe(-1);
    expect(made.filter((id) => !UUID_V7.test(id))).toEqual([]);
  });

  it('differs between generators started in the same millisecond', () => {
    const a = new TimeOrderedIds(() => 1_800_000_000_000).next();
    const b = new TimeOrderedIds(() => 1_800_000_000_000).next();
    expect(a.slice(0, 18)).toBe(b.slice(0, 18));
    expect(a).not.toBe(b);
  });

  it('converts between the text and byte forms', () => {
    const text = new TimeOrderedIds().next();
    expect(uuidBytes(text)).toHaveLength(16);
    expect(uuidText(uuidBytes(text))).toBe(text);
  });
});
