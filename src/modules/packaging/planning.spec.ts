import { bundleIdOf, effectiveDevice, nightlyBytes, stableJson } from './planning.service';

describe('bundle planning helpers', () => {
  it('writes JSON with sorted keys at every level, so equal plans hash equal', () => {
    expect(stableJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });

  it('derives a UUID-shaped bundle id from the plan hash', () => {
    const id = bundleIdOf('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(bundleIdOf('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef')).toBe(id);
  });

  it('counts what one day of receive windows carries, windows across midnight included', () => {
    // 8 hours at 1000 kbit/s = 125,000 B/s.
    expect(nightlyBytes(1000, [{ start: '22:00', end: '06:00' }])).toBe(8 * 3600 * 125_000);
    expect(nightlyBytes(1000, [])).toBe(24 * 3600 * 125_000);
    expect(
      nightlyBytes(1000, [
        { start: '12:00', end: '13:00' },
        { start: '23:30', end: '00:30' },
      ]),
    ).toBe(2 * 3600 * 125_000);
  });

  it('gives the worst links the 240p rung', () => {
    const base = { max_video_height: 480, video_codecs: ['h264'], image_formats: ['webp'] };
    expect(effectiveDevice({ ...base, downlink_kbps: 4000 }).maxVideoHeight).toBe(480);
    expect(effectiveDevice({ ...base, downlink_kbps: 512 }).maxVideoHeight).toBe(240);
  });
});
