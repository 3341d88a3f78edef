import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { libraryProblems, noise, readIndex, runAgent } from './support/agent-cli';
import { SyncFixture, sha256 } from './support/sync-fixture';

describe('agent: enroll and sync against a protocol server', () => {
  let f: SyncFixture;
  let dir: string;

  beforeEach(async () => {
    f = await SyncFixture.start();
    dir = await mkdtemp(join(tmpdir(), 'classcast-agent-'));
  });
  afterEach(async () => {
    await f.close();
    await rm(dir, { recursive: true, force: true });
  });

  const sync = (...extra: string[]) =>
    runAgent(['sync', '--dir', dir, '--retry-base-ms', '50', ...extra]);

  it('enrolls (token 0600, keys pinned), syncs a bundle, sends receipts and inventory, exits 0 only when complete', async () => {
    const enroll = await runAgent([
      'enroll',
      '--server',
      f.url,
      '--code',
      'k3qx 7p2m',
      '--dir',
      dir,
      '--name',
      'Room 1',
    ]);
    expect(enroll.stderr).not.toContain(f.token);
    expect(enroll.code).toBe(0);
    const { statSync } = await import('node:fs');
    expect(statSync(join(dir, 'token')).mode & 0o777).toBe(0o600);
    const keys = JSON.parse(await readFile(join(dir, 'keys.json'), 'utf8'));
    expect(keys.keys.map((k: { keyId: string }) => k.keyId)).toEqual([f.currentKey.keyId]);

    const lessonId = randomUUID();
    const video = noise(3_000_000, 7);
    const notes = Buffer.from('WEBVTT\n\n' + 'rhythm and melody '.repeat(5000));
    await f.publish([
      {
        lessonId,
        version: 1,
        title: 'Rhythm',
        subject: 'music',
        grades: [3],
        files: [
          { path: 'video/lecture.mp4', data: video, mediaType: 'video/mp4' },
          { path: 'captions.vtt', data: notes, mediaType: 'text/vtt' },
        ],
      },
    ]);
    const run = await sync();
    expect(run.stderr).not.toContain(f.token);
    expect(run.code).toBe(0);
    const index = await readIndex(dir);
    expect(Object.keys(index.lessons)).toEqual([lessonId]);
    expect(await libraryProblems(dir)).toEqual([]);
    const installed = join(dir, 'library', 'lessons', lessonId, index.lessons[lessonId].dir);
    expect(sha256(await readFile(join(installed, 'video/lecture.mp4')))).toBe(sha256(video));
    expect(f.receipts).toEqual([
      expect.objectContaining({ bundleId: f.bundles[0].id, state: 'installed', via: 'http' }),
    ]);
    expect(f.inventories.at(-1)?.lessons).toEqual([{ lessonId, version: 1 }]);

    // A second sync downloads nothing.
    const before = f.requests.filter((r) => r.url.includes('/bundles/')).length;
    expect((await sync()).code).toBe(0);
    expect(f.requests.filter((r) => r.url.includes('/bundles/')).length).toBe(before);
  });

  it('applies a zstd patch against the installed version, fetches whole files when the base is gone, removes unassigned lessons', async () => {
    expect(
      (await runAgent(['enroll', '--server', f.url, '--code', f.code, '--dir', dir])).code,
    ).toBe(0);
    const a = randomUUID();
    const b = randomUUID();
    const v1 = Buffer.from(
      JSON.stringify({ words: Array.from({ length: 20000 }, (_, i) => `word ${i}`) }),
    );
    await f.publish([
      {
        lessonId: a,
        version: 1,
        files: [{ path: 'glossary.json', data: v1, mediaType: 'application/json' }],
      },
      { lessonId: b, version: 1, files: [{ path: 'clip.mp4', data: noise(200_000, 3) }] },
    ]);
    expect((await sync()).code).toBe(0);

    const v2 = Buffer.from(v1.toString().replace('word 100"', 'word one hundred"'));
    await f.publish([{ lessonId: a, version: 2, files: [{ path: 'glossary.json', data: v2 }] }], {
      bases: new Map([['glossary.json', v1]]),
    });
    const bundle = await readFile(f.bundles[1].path);
    expect(bundle.toString('latin1')).toContain('patches/');
    expect(f.bundles[1].size).toBeLessThan(v2.length / 4);
    expect((await sync()).code).toBe(0);
    let index = await readIndex(dir);
    expect(index.lessons[a].version).toBe(2);
    expect(await libraryProblems(dir)).toEqual([]);

    // Lesson b is unassigned: it leaves the manifest and the library.
    f.lessons = f.lessons.filter((l) => l.lessonId !== b);
    f.version += 1;
    expect((await sync()).code).toBe(0);
    index = await readIndex(dir);
    expect(Object.keys(index.lessons)).toEqual([a]);

    // A patch whose base this terminal lacks (a wiped library): the whole file comes by sha256.
    await rm(join(dir, 'library'), { recursive: true, force: true });
    await rm(join(dir, 'work'), { recursive: true, force: true });
    const v3 = Buffer.from(v2.toString().replace('word 200"', 'word two hundred"'));
    await f.publish([{ lessonId: a, version: 3, files: [{ path: 'glossary.json', data: v3 }] }], {
      bases: new Map([['glossary.json', v2]]),
    });
    const run = await sync();
    expect(run.code).toBe(0);
    expect(f.requests.some((r) => r.url === `/api/v1/sync/files/${sha256(v3)}`)).toBe(true);
    expect((await readIndex(dir)).lessons[a].version).toBe(3);
    expect(await libraryProblems(dir)).toEqual([]);
  });

  it('follows a key rotation signed by the pinned key', async () => {
    expect(
      (await runAgent(['enroll', '--server', f.url, '--code', f.code, '--dir', dir])).code,
    ).toBe(0);
    const old = f.currentKey.keyId;
    const next = f.rotateKey();
    await f.publish([
      {
        lessonId: randomUUID(),
        version: 1,
        files: [{ path: 'a.txt', data: Buffer.from('hello') }],
      },
    ]);
    const run = await sync();
    expect(run.code).toBe(0);
    const keys = JSON.parse(await readFile(join(dir, 'keys.json'), 'utf8'));
    expect(keys.keys.map((k: { keyId: string }) => k.keyId).sort()).toEqual(
      [old, next.keyId].sort(),
    );
  });
});
