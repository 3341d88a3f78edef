import { lessonKey, manifestState, nextPollSeconds, type ManifestInputs } from './manifest-state';

const L1 = '11111111-1111-4111-8111-111111111111';
const L2 = '22222222-2222-4222-8222-222222222222';
const L3 = '33333333-3333-4333-8333-333333333333';
const B1 = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const file = (c: string) => [{ path: `${c}.pdf`, sha256: c.repeat(64).slice(0, 64), size: 10 }];

function inputs(over: Partial<ManifestInputs> = {}): ManifestInputs {
  return {
    schoolId: '00000000-0000-4000-8000-000000000000',
    keyId: '0123456789abcdef',
    keysVersion: 1,
    wanted: [],
    held: new Map(),
    reported: new Set(),
    bundles: [],
    files: new Map([
      [lessonKey(L1, 1), file('a')],
      [lessonKey(L1, 2), file('b')],
      [lessonKey(L2, 1), file('c')],
      [lessonKey(L3, 1), file('d')],
    ]),
    ...over,
  };
}

describe('manifestState', () => {
  it('lists a wanted lesson once a ready bundle brings it, with the bundle by priority', () => {
    const s = manifestState(
      inputs({
        wanted: [
          { lessonId: L1, version: 1, priority: 2 },
          { lessonId: L2, version: 1, priority: 5 },
        ],
        bundles: [
          { id: B1, sha256: 'f'.repeat(64), size: 99, lessons: [{ lessonId: L1, version: 1 }] },
        ],
      }),
    );
    expect(s.lessons).toEqual([{ lessonId: L1, version: 1, files: file('a') }]);
    expect(s.bundles).toEqual([
      { id: B1, url: `/api/v1/sync/bundles/${B1}`, size: 99, sha256: 'f'.repeat(64), priority: 2 },
    ]);
    expect(s.remove).toEqual([]);
  });

  it('keeps the held version until the new one can arrive, and removes what nothing wants', () => {
    const s = manifestState(
      inputs({
        wanted: [{ lessonId: L1, version: 2, priority: 5 }],
        held: new Map([
          [L1, 1],
          [L2, 1],
        ]),
        reported: new Set([L3]),
      }),
    );
    expect(s.lessons).toEqual([{ lessonId: L1, version: 1, files: file('a') }]);
    expect(s.remove).toEqual([{ lessonId: L2 }, { lessonId: L3 }]);
  });

  it('leaves out a lesson whose files are not settled yet', () => {
    const s = manifestState(
      inputs({
        wanted: [{ lessonId: L1, version: 2, priority: 5 }],
        held: new Map([[L1, 2]]),
        files: new Map(),
      }),
    );
    expect(s.lessons).toEqual([]);
  });

  it('hashes equal states equally and changes with content or the signing key', () => {
    const base = inputs({
      wanted: [{ lessonId: L1, version: 1, priority: 5 }],
      held: new Map([[L1, 1]]),
    });
    expect(manifestState(base).stateHash).toBe(manifestState({ ...base }).stateHash);
    expect(manifestState({ ...base, keyId: 'fedcba9876543210' }).stateHash).not.toBe(
      manifestState(base).stateHash,
    );
    expect(manifestState({ ...base, held: new Map() }).stateHash).not.toBe(
      manifestState(base).stateHash,
    );
  });
});

describe('nextPollSeconds', () => {
  it('stays within the jitter band, is stable per school and version, and spreads schools', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const s = nextPollSeconds(`school-${i}`, 1, 3600, 20);
      expect(s).toBeGreaterThanOrEqual(2880);
      expect(s).toBeLessThanOrEqual(4320);
      seen.add(s);
    }
    expect(seen.size).toBeGreaterThan(150);
    expect(nextPollSeconds('a', 3, 3600, 20)).toBe(nextPollSeconds('a', 3, 3600, 20));
    expect(nextPollSeconds('a', 3, 3600, 0)).toBe(3600);
  });
});
