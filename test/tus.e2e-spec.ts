import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { UploadExpiryService } from '../src/modules/catalog/upload-expiry.service';
import { countRows } from './support/db';
import {
  Actor,
  PNG,
  createBureauUser,
  createLesson,
  loginAdmin,
  mp4Bytes,
} from './support/factories';
import { TestApp, startTestApp } from './support/test-app';
import { tusCreate, tusOffset, tusPatch, tusRequest } from './support/tus-client';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('tus uploads', () => {
  let t: TestApp;
  let admin: Actor;
  let bureau: Actor;
  let other: Actor;

  beforeAll(async () => {
    t = await startTestApp({ UPLOAD_MAX_FILE_MB: '64' });
    admin = await loginAdmin(t);
    bureau = await createBureauUser(t, admin);
    other = await createBureauUser(t, admin);
  });
  afterAll(() => t.close());

  const files = async (lessonId: string, version = 1) =>
    (
      await t
        .http()
        .get(`/api/v1/lessons/${lessonId}/versions/${version}/files`)
        .set('Authorization', `Bearer ${bureau.token}`)
        .expect(200)
    ).body.items as { path: string; sha256: string; size: number }[];

  it('creates, resumes after a broken connection, and lands the file in the draft', async () => {
    const lesson = await createLesson(t, bureau);
    const video = mp4Bytes(6 * 1024 * 1024, 11);
    const created = await tusCreate(t.url, bureau.token, video.length, {
      lessonId: lesson.id,
      path: 'video/lecture.mp4',
      filename: 'lecture.mp4',
      sha256: sha(video),
    });
    expect(created.status).toBe(201);
    expect(created.headers.location).toMatch(/^\/api\/v1\/uploads\/[0-9a-f]{32}$/);
    const location = created.location as string;

    // Send the first 2 MB, then cut the connection in the middle of the body.
    await new Promise<void>((resolve) => {
      const req = request(location, {
        method: 'PATCH',
        headers: {
          'Tus-Resumable': '1.0.0',
          Authorization: `Bearer ${bureau.token}`,
          'Content-Type': 'application/offset+octet-stream',
          'Upload-Offset': '0',
          'Content-Length': String(video.length),
        },
      });
      req.on('error', () => resolve());
      req.on('response', (res) => {
        res.resume();
        resolve();
      });
      req.write(video.subarray(0, 2 * 1024 * 1024), () => setTimeout(() => req.destroy(), 200));
    });
    let offset = -1;
    for (let i = 0; i < 50; i++) {
      offset = (await tusOffset(location, bureau.token)).offset;
      if (offset > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(await files(lesson.id)).toEqual([]);

    const done = await tusPatch(location, bureau.token, offset, video.subarray(offset));
    expect(done.status).toBe(204);
    expect(done.headers['upload-offset']).toBe(String(video.length));
    expect(await files(lesson.id)).toEqual([
      expect.objectContaining({
        path: 'video/lecture.mp4',
        sha256: sha(video),
        size: video.length,
      }),
    ]);
    expect(await countRows(t, 'upload')).toBe(0);
  });

  it('discards an upload whose sha256 does not match with 460 checksum_mismatch', async () => {
    const lesson = await createLesson(t, bureau);
    const video = mp4Bytes(100_000, 12);
    const [blobs, rows] = [await countRows(t, 'blob'), await countRows(t, 'lesson_file')];
    const created = await tusCreate(t.url, bureau.token, video.length, {
      lessonId: lesson.id,
      path: 'a.mp4',
      sha256: sha(Buffer.from('something else')),
    });
    const res = await tusPatch(created.location as string, bureau.token, 0, video);
    expect(res.status).toBe(460);
    expect(JSON.parse(res.body)).toMatchObject({ statusCode: 460, code: 'checksum_mismatch' });
    expect((await tusOffset(created.location as string, bureau.token)).status).toBe(404);
    expect([await countRows(t, 'blob'), await countRows(t, 'lesson_file')]).toEqual([blobs, rows]);
    expect(await readdir(join(t.env.dataDir, 'uploads'))).toEqual([]);
  });

  it('rejects content that is not what its name says once complete, leaving nothing', async () => {
    const lesson = await createLesson(t, bureau);
    const created = await tusCreate(t.url, bureau.token, PNG.length, {
      lessonId: lesson.id,
      path: 'movie.mp4',
    });
    const res = await tusPatch(created.location as string, bureau.token, 0, PNG);
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body).code).toBe('media_type_mismatch');
    expect(await files(lesson.id)).toEqual([]);
    expect(await readdir(join(t.env.dataDir, 'uploads'))).toEqual([]);
  });

  it('validates metadata, length and path at creation', async () => {
    const lesson = await createLesson(t, bureau);
    const noLesson = await tusCreate(t.url, bureau.token, 10, { path: 'a.mp4' });
    expect(noLesson.status).toBe(422);
    expect(JSON.parse(noLesson.body).code).toBe('validation_failed');
    const traversal = await tusCreate(t.url, bureau.token, 10, {
      lessonId: lesson.id,
      path: '../../x.mp4',
    });
    expect(traversal.status).toBe(422);
    expect(JSON.parse(traversal.body).code).toBe('invalid_path');
    const badSha = await tusCreate(t.url, bureau.token, 10, {
      lessonId: lesson.id,
      path: 'a.mp4',
      sha256: 'xyz',
    });
    expect(badSha.status).toBe(422);
    const tooBig = await tusCreate(t.url, bureau.token, 65 * 1024 * 1024, {
      lessonId: lesson.id,
      path: 'a.mp4',
    });
    expect(tooBig.status).toBe(413);
    const deferred = await tusRequest(`${t.url}/api/v1/uploads`, 'POST', {
      Authorization: `Bearer ${bureau.token}`,
      'Upload-Defer-Length': '1',
      'Upload-Metadata': 'lessonId ' + Buffer.from(lesson.id).toString('base64'),
    });
    expect(deferred.status).toBeGreaterThanOrEqual(400);
    expect(deferred.status).toBeLessThan(500);
    const foreign = await tusCreate(t.url, other.token, 10, { lessonId: lesson.id, path: 'a.mp4' });
    expect(foreign.status).toBe(404);
    expect(await countRows(t, 'upload')).toBe(0);
  });

  it('lets only the creator (or an admin) touch an upload, and needs a token', async () => {
    const lesson = await createLesson(t, bureau);
    const created = await tusCreate(t.url, bureau.token, 1000, {
      lessonId: lesson.id,
      path: 'a.mp4',
    });
    const location = created.location as string;
    expect((await tusOffset(location, other.token)).status).toBe(404);
    expect((await tusPatch(location, other.token, 0, mp4Bytes(1000))).status).toBe(404);
    expect((await tusRequest(location, 'HEAD', {})).status).toBe(401);
    expect((await tusOffset(location, admin.token)).status).toBe(200);
    const terminated = await tusRequest(location, 'DELETE', {
      Authorization: `Bearer ${bureau.token}`,
    });
    expect(terminated.status).toBe(204);
    expect((await tusOffset(location, bureau.token)).status).toBe(404);
  });

  it('removes uploads idle longer than the limit', async () => {
    const lesson = await createLesson(t, bureau);
    const created = await tusCreate(t.url, bureau.token, 5000, {
      lessonId: lesson.id,
      path: 'a.mp4',
    });
    await tusPatch(created.location as string, bureau.token, 0, mp4Bytes(5000).subarray(0, 1000));
    const expiry = t.app.get(UploadExpiryService);
    expect(await expiry.expireIdle(1)).toBe(0);
    expect(await expiry.expireIdle(0)).toBe(1);
    expect((await tusOffset(created.location as string, bureau.token)).status).toBe(404);
    expect(await readdir(join(t.env.dataDir, 'uploads'))).toEqual([]);
  });
});
