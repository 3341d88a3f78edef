import {
  SyncProtocolError,
  parseEnvelope,
  parseManifestPayload,
  safeLessonPath,
  serializeManifestPayload,
  type SyncManifestPayload,
} from './sync';

const payload: SyncManifestPayload = {
  schoolId: '00000000-0000-4000-8000-000000000000',
  version: 3,
  issuedAt: '2026-11-28T15:00:00Z',
  expires: '2026-12-05T15:00:00Z',
  keysVersion: 1,
  nextPollSeconds: 3600,
  lessons: [
    {
      lessonId: '11111111-1111-4111-8111-111111111111',
      version: 2,
      files: [{ path: 'video/a.mp4', sha256: 'a'.repeat(64), size: 10 }],
    },
  ],
  bundles: [
    {
      id: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
      url: '/api/v1/sync/bundles/bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
      size: 99,
      sha256: 'f'.repeat(64),
      priority: 2,
    },
  ],
  remove: [{ lessonId: '22222222-2222-4222-8222-222222222222' }],
};

describe('sync protocol parsers', () => {
  it('round-trips a payload through its canonical text', () => {
    const text = serializeManifestPayload(payload);
    expect(parseManifestPayload(text)).toEqual(payload);
    expect(serializeManifestPayload(parseManifestPayload(text))).toBe(text);
  });

  it.each([
    ['not JSON', '{'],
    ['a negative size', serializeManifestPayload(payload).replace('"size":10', '"size":-1')],
    ['a version 0', serializeManifestPayload({ ...payload, version: 0 })],
    ['a bad sha256', serializeManifestPayload(payload).replace('a'.repeat(64), 'xyz')],
    ['a bad time', serializeManifestPayload({ ...payload, expires: 'tomorrow' })],
    [
      'a path escaping the library',
      serializeManifestPayload(payload).replace('video/a.mp4', '../etc/passwd'),
    ],
    ['a school id that is not a UUID', serializeManifestPayload({ ...payload, schoolId: 'x' })],
  ])('refuses %s', (_, text) => {
    expect(() => parseManifestPayload(text)).toThrow(SyncProtocolError);
  });

  it('checks the envelope shape', () => {
    expect(parseEnvelope({ payload: '{}', signature: 'AAAA', keyId: '0123456789abcdef' })).toEqual({
      payload: '{}',
      signature: 'AAAA',
      keyId: '0123456789abcdef',
    });
    expect(() => parseEnvelope({ payload: '{}', signature: 'AAAA', keyId: 'nope' })).toThrow(
      SyncProtocolError,
    );
    expect(() => parseEnvelope(null)).toThrow(SyncProtocolError);
  });

  it.each(['/abs', 'a//b', 'a/./b', 'a/../b', 'a\\b', '', 'a\0b'])('refuses the path %j', (p) => {
    expect(() => safeLessonPath(p)).toThrow(SyncProtocolError);
  });
});
