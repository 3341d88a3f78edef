import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import {
  Actor,
  PDF,
  createBureauUser,
  createLesson,
  loginAdmin,
  school,
} from './support/factories';
import { TestApp, startTestApp } from './support/test-app';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A one-second 640x360 H.264 clip made by ffmpeg: a real lecture-like video to render. */
function makeVideo(path: string): Buffer {
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=640x360:rate=25:duration=1',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:duration=1',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-crf',
    '10',
    '-c:a',
    'aac',
    '-b:a',
    '192k',
    '-shortest',
    path,
  ]);
  return execFileSync('cat', [path]);
}

interface BundleView {
  id: string;
  state: string;
  sha256: string | null;
  bundleBytes: number | null;
  lessons: { lessonId: string; version: number }[];
}

describe('packaging: bundles follow publishing and assigning, and standard tools verify them', () => {
  let t: TestApp;
  let admin: Actor;
  let bureau: Actor;
  let work: string;
  const as = (a: Actor) => ({ Authorization: `Bearer ${a.token}` });

  beforeAll(async () => {
    t = await startTestApp({ NEED_DEBOUNCE_SECONDS: '0', ZSTD_LEVEL: '3' });
    admin = await loginAdmin(t);
    bureau = await createBureauUser(t, admin);
    work = await mkdtemp(join(tmpdir(), 'classcast-bundle-'));
  });
  afterAll(async () => {
    await t.close();
    await rm(work, { recursive: true, force: true });
  });

  const waitForBundle = async (schoolId: string, notId?: string): Promise<BundleView> => {
    for (let i = 0; i < 600; i++) {
      const res = await t
        .http()
        .get(`/api/v1/bundles?schoolId=${schoolId}&state=ready`)
        .set(as(bureau))
        .expect(200);
      const ready = (res.body.items as BundleView[]).find((b) => b.id !== notId);
      if (ready) return ready;
      await new Promise((r) => setTimeout(r, 200));
    }
    const all = await t.http().get(`/api/v1/bundles?schoolId=${schoolId}`).set(as(bureau));
    throw new Error(`no ready bundle: ${JSON.stringify(all.body)}`);
  };

  const upload = (lessonId: string, bytes: Buffer, name: string, path?: string) => {
    const req = t.http().post(`/api/v1/lessons/${lessonId}/files`).set(as(bureau));
    if (path) req.field('path', path);
    return req.attach('file', bytes, name).expect((r) => expect([200, 201]).toContain(r.status));
  };

  it('publish + assign -> a signed bundle that tar, minisign, zstd and sha256sum accept; an update travels as a patch', async () => {
    const regionId = bureau.regionId as string;
    const schoolRes = await t
      .http()
      .post('/api/v1/schools')
      .set(as(bureau))
      .send(school('PKG-1', regionId, { device: { maxVideoHeight: 240 } }))
      .expect(201);
    const schoolId = schoolRes.body.id as string;

    const lesson = await createLesson(t, bureau, { subject: 'music', grades: [3] });
    const video = makeVideo(join(work, 'lecture.mp4'));
    const glossary = Buffer.from(
      JSON.stringify({
        words: Array.from({ length: 3000 }, (_, i) => ({
          id: i,
          zh: `节奏${i}`,
          en: `rhythm ${i}`,
        })),
      }),
    );
    await upload(lesson.id, video, 'lecture.mp4', 'video/lecture.mp4');
    await upload(lesson.id, PDF, 'notes.pdf');
    // Captions are text: they compress.
    await upload(
      lesson.id,
      Buffer.concat([
        Buffer.from('WEBVTT\n\n'),
        Buffer.from(glossary.toString().replace(/[{}"]/g, ' ')),
      ]),
      'captions.vtt',
    );
    await t.http().post(`/api/v1/lessons/${lesson.id}/publish`).set(as(bureau)).expect(200);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, schoolIds: [schoolId] })
      .expect(201);

    // Nobody asks: the need change plans, renders and builds by itself.
    const bundle = await waitForBundle(schoolId);
    expect(bundle.lessons).toEqual([{ lessonId: lesson.id, version: 1 }]);
    const full = await t.http().get(`/api/v1/bundles/${bundle.id}`).set(as(bureau)).expect(200);
    expect(full.body).toMatchObject({ state: 'ready', progress: 100, sha256: bundle.sha256 });

    const tarPath = join(work, 'bundle.tar');
    const download = await t
      .http()
      .get(`/api/v1/bundles/${bundle.id}/download`)
      .set(as(bureau))
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    const tar = download.body as Buffer;
    expect(sha(tar)).toBe(bundle.sha256);
    expect(download.headers['etag']).toBe(`"${bundle.sha256 as string}"`);
    await writeFile(tarPath, tar);

    // Ranges: a resumed download gets exactly the rest.
    const tail = await t
      .http()
      .get(`/api/v1/bundles/${bundle.id}/download`)
      .set(as(bureau))
      .set('Range', 'bytes=100-')
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(206);
    expect(Buffer.compare(tail.body as Buffer, tar.subarray(100))).toBe(0);
    await t
      .http()
      .get(`/api/v1/bundles/${bundle.id}/download`)
      .set(as(bureau))
      .set('Range', `bytes=${tar.length}-`)
      .expect(416);

    // Tools nobody here wrote.
    const out = join(work, 'out');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xf', tarPath, '-C', out]);
    const keys = await t.http().get('/api/v1/keys').set(as(bureau)).expect(200);
    const publicKey = (keys.body.keys[0].minisign as string).split('\n')[1];
    execFileSync('minisign', ['-Vm', join(out, 'manifest.json'), '-P', publicKey]);
    const sig = await t
      .http()
      .get(`/api/v1/bundles/${bundle.id}/download.minisig`)
      .set(as(bureau))
      .expect(200);
    await writeFile(`${tarPath}.minisig`, sig.text);
    expect(sig.text).toContain(`trusted comment: bundle:${bundle.id}`);
    execFileSync('minisign', ['-Vm', tarPath, '-P', publicKey]);
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'classcast-bundle/1',
      bundleId: bundle.id,
      lessons: [{ lessonId: lesson.id, version: 1 }],
    });
    const members = manifest.entries.map((e: { member: string }) => e.member);
    expect(members).toEqual([...members].sort());
    for (const entry of manifest.entries as {
      member: string;
      encoding: string;
      sha256: string;
      size: number;
    }[]) {
      const produced = join(work, `produced-${entry.sha256}`);
      if (entry.encoding === 'zstd')
        execFileSync('zstd', ['-q', '-d', '-f', join(out, entry.member), '-o', produced]);
      else execFileSync('cp', [join(out, entry.member), produced]);
      const digest = execFileSync('sha256sum', [produced]).toString().split(' ')[0];
      expect(digest).toBe(entry.sha256);
      expect((await readFile(produced)).length).toBe(entry.size);
    }
    const encodings = Object.fromEntries(
      (manifest.entries as { encoding: string; targets: { path: string }[] }[]).map((e) => [
        e.targets[0].path,
        e.encoding,
      ]),
    );
    expect(encodings).toMatchObject({
      'captions.vtt': 'zstd',
      'notes.pdf': 'identity',
      'video/lecture.mp4': 'identity',
    });
    // The 240p rendition travels, not the 360p source.
    const videoEntry = (
      manifest.entries as { sha256: string; size: number; targets: { path: string }[] }[]
    ).find((e) => e.targets[0].path === 'video/lecture.mp4');
    expect(videoEntry?.sha256).not.toBe(sha(video));
    expect(videoEntry!.size).toBeLessThan(video.length);

    // The school installs version 1; version 2 changes the captions a little.
    await t.app
      .get(DataSource)
      .query(`INSERT INTO holding (school_id, lesson_id, version, bytes) VALUES ($1, $2, 1, $3)`, [
        schoolId,
        lesson.id,
        tar.length,
      ]);
    const captions2 = Buffer.concat([
      Buffer.from('WEBVTT\n\n'),
      Buffer.from(glossary.toString().replace(/[{}"]/g, ' ').replace('rhythm 7', 'beat 7')),
    ]);
    await upload(lesson.id, captions2, 'captions.vtt');
    await t.http().post(`/api/v1/lessons/${lesson.id}/publish`).set(as(bureau)).expect(200);
    const update = await waitForBundle(schoolId, bundle.id);
    expect(update.lessons).toEqual([{ lessonId: lesson.id, version: 2 }]);
    const updateTar = join(work, 'update.tar');
    const got = await t
      .http()
      .get(`/api/v1/bundles/${update.id}/download`)
      .set(as(bureau))
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    await writeFile(updateTar, got.body as Buffer);
    const out2 = join(work, 'out2');
    execFileSync('mkdir', ['-p', out2]);
    execFileSync('tar', ['-xf', updateTar, '-C', out2]);
    const manifest2 = JSON.parse(await readFile(join(out2, 'manifest.json'), 'utf8'));
    expect(manifest2.entries).toHaveLength(1);
    const patch = manifest2.entries[0] as {
      member: string;
      encoding: string;
      base: string;
      sha256: string;
    };
    expect(patch.encoding).toBe('zstd-patch');
    const basePath = join(work, `produced-${patch.base}`);
    const produced = join(work, 'captions-v2');
    execFileSync('zstd', [
      '-q',
      '-d',
      '-f',
      `--patch-from=${basePath}`,
      join(out2, patch.member),
      '-o',
      produced,
    ]);
    expect(sha(await readFile(produced))).toBe(sha(captions2));
    expect((got.body as Buffer).length).toBeLessThan(captions2.length / 4);
    const superseded = await t
      .http()
      .get(`/api/v1/bundles/${bundle.id}`)
      .set(as(bureau))
      .expect(200);
    expect(superseded.body.state).toBe('superseded');
    const links = await t
      .http()
      .post(`/api/v1/bundles/${update.id}/download-links`)
      .set(as(bureau))
      .expect(201);
    const viaLink = await t
      .http()
      .get(links.body.url as string)
      .expect(200);
    expect(Number(viaLink.headers['content-length'])).toBe((got.body as Buffer).length);
    await t.http().get(`/api/v1/bundles/${update.id}/download`).expect(401);
    expect(await readdir(join(t.env.dataDir, 'tmp'))).toEqual([]);
  });
});
