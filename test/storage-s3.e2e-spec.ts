import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import {
  Actor,
  PDF,
  createBureauUser,
  createLesson,
  loginAdmin,
  mp4Bytes,
} from './support/factories';
import { TestApp, startTestApp } from './support/test-app';
import { tusCreate, tusPatch } from './support/tus-client';
import { LocalS3, S3RVER_KEYS, TEST_BUCKET, startLocalS3 } from './storage/storage-fixtures';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the catalog on S3-compatible storage', () => {
  let s3: LocalS3;
  let t: TestApp;
  let bureau: Actor;

  beforeAll(async () => {
    s3 = await startLocalS3();
    t = await startTestApp({
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: TEST_BUCKET,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: S3RVER_KEYS.accessKeyId,
      S3_SECRET_ACCESS_KEY: S3RVER_KEYS.secretAccessKey,
    });
    bureau = await createBureauUser(t, await loginAdmin(t));
  });
  afterAll(async () => {
    await t.close();
    await s3.close();
  });

  it('reports the bucket in readiness and stores multipart and tus uploads there', async () => {
    const ready = await t.http().get('/health/ready').expect(200);
    expect(ready.body.info.storage).toEqual({ status: 'up' });
    const lesson = await createLesson(t, bureau);
    await t
      .http()
      .post(`/api/v1/lessons/${lesson.id}/files`)
      .set('Authorization', `Bearer ${bureau.token}`)
      .attach('file', PDF, 'notes.pdf')
      .expect(201);
    const video = mp4Bytes(3 * 1024 * 1024, 21);
    const created = await tusCreate(t.url, bureau.token, video.length, {
      lessonId: lesson.id,
      path: 'lecture.mp4',
      sha256: sha(video),
    });
    expect((await tusPatch(created.location as string, bureau.token, 0, video)).status).toBe(204);
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3RVER_KEYS,
    });
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: TEST_BUCKET, Prefix: 'blobs/' }),
    );
    client.destroy();
    const objects = (listed.Contents ?? []).map((o) => o.Key);
    expect(objects).toEqual(expect.arrayContaining([`blobs/${sha(PDF)}`, `blobs/${sha(video)}`]));
  });
});
