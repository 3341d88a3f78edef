import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { countRows } from './support/db';
import { Actor, createBureauUser, createLesson, loginAdmin, mp4Bytes } from './support/factories';
import { TestApp, startTestApp } from './support/test-app';
import { tusCreate } from './support/tus-client';

const MB = 1024 * 1024;

describe('upload limits: per file and per bureau', () => {
  let t: TestApp;
  let bureau: Actor;

  beforeAll(async () => {
    t = await startTestApp({
      UPLOAD_MAX_FILE_MB: '2',
      BUREAU_QUOTA_MB: '3',
      CORS_ORIGINS: 'https://bureau.example',
    });
    bureau = await createBureauUser(t, await loginAdmin(t));
  });
  afterAll(() => t.close());

  const upload = (lessonId: string, bytes: Buffer, name: string) =>
    t
      .http()
      .post(`/api/v1/lessons/${lessonId}/files`)
      .set('Authorization', `Bearer ${bureau.token}`)
      .attach('file', bytes, name);

  it('answers a file over UPLOAD_MAX_FILE_MB with 413 and keeps nothing', async () => {
    const lesson = await createLesson(t, bureau);
    const res = await upload(lesson.id, mp4Bytes(2 * MB + 1, 1), 'big.mp4').expect(413);
    expect(res.body.code).toBe('payload_too_large');
    expect(await countRows(t, 'blob')).toBe(0);
    expect(await readdir(join(t.env.dataDir, 'tmp'))).toEqual([]);
    const tus = await tusCreate(t.url, bureau.token, 3 * MB, {
      lessonId: lesson.id,
      path: 'big.mp4',
    });
    expect(tus.status).toBe(413);
  });

  it("answers uploads past the bureau's quota with 413 quota_exceeded; identical bytes cost nothing", async () => {
    const lesson = await createLesson(t, bureau);
    const first = mp4Bytes(Math.floor(1.5 * MB), 2);
    await upload(lesson.id, first, 'a.mp4').expect(201);
    await upload(lesson.id, first, 'copy-of-a.mp4').expect(201);
    const res = await upload(lesson.id, mp4Bytes(Math.floor(1.8 * MB), 3), 'b.mp4').expect(413);
    expect(res.body.code).toBe('quota_exceeded');
    expect(res.body.message).toMatch(/quota/);
    const tus = await tusCreate(t.url, bureau.token, Math.floor(1.8 * MB), {
      lessonId: lesson.id,
      path: 'c.mp4',
    });
    expect(tus.status).toBe(413);
    expect(JSON.parse(tus.body).code).toBe('quota_exceeded');
  });

  it('answers CORS preflights for the configured origins only', async () => {
    const ok = await t
      .http()
      .options('/api/v1/lessons')
      .set('Origin', 'https://bureau.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(ok.status).toBeLessThan(300);
    expect(ok.headers['access-control-allow-origin']).toBe('https://bureau.example');
    const other = await t
      .http()
      .options('/api/v1/lessons')
      .set('Origin', 'https://elsewhere.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
