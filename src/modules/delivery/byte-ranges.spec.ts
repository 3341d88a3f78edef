import { ifRangeHolds, noneMatch, parseRangeSet } from './byte-ranges';

describe('parseRangeSet', () => {
  const size = 1000;
  it.each([
    [undefined, { kind: 'full' }],
    ['bytes=0-99', { kind: 'ranges', ranges: [{ start: 0, end: 99 }] }],
    ['bytes=900-', { kind: 'ranges', ranges: [{ start: 900, end: 999 }] }],
    ['bytes=-100', { kind: 'ranges', ranges: [{ start: 900, end: 999 }] }],
    ['bytes=-5000', { kind: 'ranges', ranges: [{ start: 0, end: 999 }] }],
    ['bytes=990-5000', { kind: 'ranges', ranges: [{ start: 990, end: 999 }] }],
    ['BYTES = 0-0', { kind: 'ranges', ranges: [{ start: 0, end: 0 }] }],
    [
      'bytes=0-9, 20-29,-10',
      {
        kind: 'ranges',
        ranges: [
          { start: 0, end: 9 },
          { start: 20, end: 29 },
          { start: 990, end: 999 },
        ],
      },
    ],
    ['bytes=0-9,5-19,20-29', { kind: 'ranges', ranges: [{ start: 0, end: 29 }] }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=1000-1001,2000-', { kind: 'unsatisfiable' }],
    ['bytes=1000-1001,0-1', { kind: 'ranges', ranges: [{ start: 0, end: 1 }] }],
    ['bytes=9-5', { kind: 'full' }],
    ['bytes=abc', { kind: 'full' }],
    ['items=0-5', { kind: 'full' }],
    ['bytes=-', { kind: 'full' }],
    [
      `bytes=${Array.from({ length: 40 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}`,
      { kind: 'full' },
    ],
  ])('%s', (header, expected) => {
    expect(parseRangeSet(header, size)).toEqual(expected);
  });

  it('an empty file has no satisfiable range', () => {
    expect(parseRangeSet('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRangeSet('bytes=-1', 0)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('validators', () => {
  const etag = '"abc"';
  it('If-Range holds only for the same strong ETag', () => {
    expect(ifRangeHolds(undefined, etag)).toBe(true);
    expect(ifRangeHolds('"abc"', etag)).toBe(true);
    expect(ifRangeHolds('W/"abc"', etag)).toBe(false);
    expect(ifRangeHolds('"abd"', etag)).toBe(false);
    expect(ifRangeHolds('Sat, 28 Nov 2026 10:00:00 GMT', etag)).toBe(false);
  });
  it('If-None-Match matches lists, weak forms and *', () => {
    expect(noneMatch('"x", "abc"', etag)).toBe(true);
    expect(noneMatch('W/"abc"', etag)).toBe(true);
    expect(noneMatch('*', etag)).toBe(true);
    expect(noneMatch('"abd"', etag)).toBe(false);
    expect(noneMatch(undefined, etag)).toBe(false);
  });
});
