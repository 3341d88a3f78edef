import Redis from 'ioredis';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { JobsService } from '../src/jobs/jobs.service';
import { GarbageCollector } from '../src/modules/packaging/gc.service';
import {
  Actor,
  PDF,
  createBureauUser,
  createLesson,
  loginAdmin,
  mp4Bytes,
  school,
} from './support/factories';
import { REDIS_TEST_URL } from './support/pg';
import { TestApp, startTestApp } from './support/test-app';

interface BundleView {
  id: string;
  state: string;
  error?: string;
  sha256: string | null;
}

describe('packaging under faults', () => {
  // Deadlines, not speed limits: a shared CI machine can be slow, a stuck pipeline never ends.
  jest.setTimeout(300_000);
  let t: TestApp;
  let bureau: Actor;
  const as = (a: Actor) => ({ Authorization: `Bearer ${a.token}` });

  beforeAll(async () => {
    t = await startTestApp({
      NEED_DEBOUNCE_SECONDS: '0',
      // The Redis-loss test reconciles at once, before the lost need changes could age.
      NEED_RECONCILE_AFTER_SECONDS: '0',
      ZSTD_LEVEL: '3',
      JOB_BACKOFF_SECONDS: '1',
      FFMPEG_TIMEOUT_SECONDS: '30',
    });
    bureau = await createBureauUser(t, await loginAdmin(t));
  });
  afterAll(() => t.close());

  const bundlesOf = async (schoolId: string) =>
    (await t.http().get(`/api/v1/bundles?schoolId=${schoolId}`).set(as(bureau)).expect(200)).body
      .items as BundleView[];

  const waitFor = async <T>(
    what: string,
    probe: () => Promise<T | undefined>,
    seconds = 180,
  ): Promise<T> => {
    for (let i = 0; i < seconds * 5; i++) {
      const value = await probe();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  const publishWith = async (files: [Buffer, string][]) => {
    const lesson = await createLesson(t, bureau, { subject: 'art', grades: [2] });
    for (const [bytes, name] of files) {
      await t
        .http()
        .post(`/api/v1/lessons/${lesson.id}/files`)
        .set(as(bureau))
        .attach('file', bytes, name)
        .expect(201);
    }
    await t.http().post(`/api/v1/lessons/${lesson.id}/publish`).set(as(bureau)).expect(200);
    return lesson.id;
  };

  const newSchool = async (code: string) =>
    (
      await t
        .http()
        .post('/api/v1/schools')
        .set(as(bureau))
        .send(school(code, bureau.regionId as string))
        .expect(201)
    ).body.id as string;

  it('a corrupt or unsupported video fails only its rendition: the reason is recorded and the source ships', async () => {
    const broken = Buffer.concat([mp4Bytes(32, 1), Buffer.alloc(200_000, 7)]);
    const lessonId = await publishWith([
      [broken, 'broken.mp4'],
      [PDF, 'notes.pdf'],
    ]);
    const schoolId = await newSchool('FAULT-MEDIA');
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId, schoolIds: [schoolId] })
      .expect(201);
    const bundle = await waitFor('a ready bundle', async () =>
      (await bundlesOf(schoolId)).find((b) => b.state === 'ready'),
    );
    const files = await t
      .http()
      .get(`/api/v1/lessons/${lessonId}/versions/1/files`)
      .set(as(bureau))
      .expect(200);
    const video = (
      files.body.items as { path: string; renditions: { state: string; reason?: string }[] }[]
    ).find((f) => f.path === 'broken.mp4');
    expect(video?.renditions).toEqual([
      expect.objectContaining({ state: 'failed', reason: expect.any(String) }),
    ]);
    const full = await t.http().get(`/api/v1/bundles/${bundle.id}`).set(as(bureau)).expect(200);
    expect(full.body.lessons).toEqual([{ lessonId, version: 1 }]);
  });

  it('a blob corrupted in storage fails the build with a clear reason and a metric, never shipping wrong bytes', async () => {
    const pdf = Buffer.concat([PDF, Buffer.from(`% unique ${Date.now()}\n`)]);
    const lessonId = await publishWith([[pdf, 'worksheet.pdf']]);
    const [file] = (
      await t.http().get(`/api/v1/lessons/${lessonId}/versions/1/files`).set(as(bureau)).expect(200)
    ).body.items as { sha256: string }[];
    const blobPath = join(
      t.env.dataDir,
      'blobs',
      file.sha256.slice(0, 2),
      file.sha256.slice(2, 4),
      file.sha256,
    );
    await writeFile(blobPath, Buffer.from('%PDF-1.4 this is not the file that was uploaded'));
    const schoolId = await newSchool('FAULT-BLOB');
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId, schoolIds: [schoolId] })
      .expect(201);
    const failed = await waitFor('a failed bundle', async () =>
      (await bundlesOf(schoolId)).find((b) => b.state === 'failed'),
    );
    expect(failed.error).toMatch(/corrupt/);
    expect(failed.sha256).toBeNull();
    await t.http().get(`/api/v1/bundles/${failed.id}/download`).set(as(bureau)).expect(409);
    const metrics = await t.http().get('/metrics').expect(200);
    expect(metrics.text).toMatch(/classcast_blobs_corrupt_total [1-9]/);
  });

  it('a rendition whose last attempt fails with an error is marked failed, not left pending', async () => {
    const ds = t.app.get(DataSource);
    const sourceSha256 = 'ab'.repeat(32);
    const profile = 'v480-h264-webp.jpeg.png';
    await ds.query(
      `INSERT INTO rendition (source_sha256, profile, state) VALUES ($1, $2, 'pending')`,
      [sourceSha256, profile],
    );
    await t.app.get(JobsService).enqueueMany('media.render', [
      {
        payload: {
          sourceSha256,
          profile,
          mediaType: 'video/mp4',
          size: 1000,
          device: { maxVideoHeight: 480, videoCodecs: ['h264'], imageFormats: ['webp'] },
        },
        key: `render-${sourceSha256}-${profile}`,
      },
    ]);
    const row = await waitFor('the rendition to give up', async () => {
      const [r] = await ds.query<{ state: string; reason: string | null }[]>(
        `SELECT state, reason FROM rendition WHERE source_sha256 = $1 AND profile = $2`,
        [sourceSha256, profile],
      );
      return r.state === 'pending' ? undefined : r;
    });
    expect(row).toEqual({ state: 'failed', reason: expect.stringMatching(/gave up/) });
  });

  it('after Redis loses every queued job, the reconciler re-derives the work from PostgreSQL and it completes', async () => {
    const lessonId = await publishWith([
      [Buffer.concat([PDF, Buffer.from('% redis\n')]), 'redis.pdf'],
    ]);
    const schoolId = await newSchool('FAULT-REDIS');
    // Hold every queued step back, so the work exists only as jobs in Redis and rows in PostgreSQL.
    const jobs = t.app.get(JobsService);
    const redis = new Redis(REDIS_TEST_URL);
    try {
      await jobs.queue('schools').pause();
      await jobs.queue('packaging').pause();
      await t
        .http()
        .post('/api/v1/assignments')
        .set(as(bureau))
        .send({ lessonId, schoolIds: [schoolId] })
        .expect(201);
      const keys = await redis.keys(`${t.env.redisPrefix}:*`);
      expect(keys.length).toBeGreaterThan(0);
      await redis.del(...keys);
      await jobs.queue('schools').resume();
      await jobs.queue('packaging').resume();
      expect((await bundlesOf(schoolId)).filter((b) => b.state === 'ready')).toEqual([]);
      await jobs.enqueue('maintenance.reconcile', {});
      const ready = await waitFor('a ready bundle', async () =>
        (await bundlesOf(schoolId)).find((b) => b.state === 'ready'),
      );
      expect(ready.sha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      redis.disconnect();
    }
  });

  it('lets schools with the same need share one bundle', async () => {
    const lessonId = await publishWith([
      [Buffer.concat([PDF, Buffer.from('% shared\n')]), 'shared.pdf'],
    ]);
    const a = await newSchool('SHARE-A');
    const b = await newSchool('SHARE-B');
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId, schoolIds: [a, b] })
      .expect(201);
    const first = await waitFor('a ready bundle for A', async () =>
      (await bundlesOf(a)).find((x) => x.state === 'ready'),
    );
    // Asking B to build now must find A's bundle, not make another (API.md: the result names the
    // existing bundle when nothing new is needed).
    await t.http().post(`/api/v1/schools/${b}/bundles`).set(as(bureau)).expect(202);
    const second = await waitFor('a ready bundle for B', async () =>
      (await bundlesOf(b)).find((x) => x.state === 'ready'),
    );
    expect(second.id).toBe(first.id);
    const full = await t.http().get(`/api/v1/bundles/${first.id}`).set(as(bureau)).expect(200);
    expect([...(full.body.schoolIds as string[])].sort()).toEqual([a, b].sort());
  });

  it('collects superseded bundles and blobs nothing references, after the grace period', async () => {
    const ds = t.app.get(DataSource);
    const lessonId = await publishWith([[Buffer.concat([PDF, Buffer.from('% gc\n')]), 'gc.pdf']]);
    const schoolId = await newSchool('FAULT-GC');
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId, schoolIds: [schoolId] })
      .expect(201);
    const bundle = await waitFor('a ready bundle', async () =>
      (await bundlesOf(schoolId)).find((b) => b.state === 'ready'),
    );
    await t.http().delete(`/api/v1/lessons/${lessonId}`).set(as(bureau)).expect(204);
    await waitFor('the bundle superseded', async () =>
      (await bundlesOf(schoolId)).find((b) => b.id === bundle.id && b.state === 'superseded'),
    );
    const result = await t.app.get(GarbageCollector).collect(0);
    expect(result.bundlesRemoved).toBeGreaterThanOrEqual(1);
    expect(result.blobsRemoved).toBeGreaterThanOrEqual(1);
    const rows = await ds.query(`SELECT count(*)::int AS n FROM blob WHERE sha256 = $1`, [
      bundle.sha256,
    ]);
    expect(rows[0].n).toBe(0);
    await t.http().get(`/api/v1/bundles/${bundle.id}`).set(as(bureau)).expect(404);
  });
});
