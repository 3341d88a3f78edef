import { createHash } from 'node:crypto';
import { createBureauUser, loginAdmin } from './support/factories';
import { schoolWithBundle } from './support/sync';
import { TestApp, startTestApp } from './support/test-app';
import { LocalS3, S3RVER_KEYS, TEST_BUCKET, startLocalS3 } from './storage/storage-fixtures';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** SYNC_BYTES=s3-presign: the api checks the terminal, then S3 sends the bytes. */
describe('terminal sync hands bundle bytes off to S3 with a presigned redirect', () => {
  let s3: LocalS3;
  let t: TestApp;

  beforeAll(async () => {
    s3 = await startLocalS3();
    t = await startTestApp({
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: TEST_BUCKET,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: S3RVER_KEYS.accessKeyId,
      S3_SECRET_ACCESS_KEY: S3RVER_KEYS.secretAccessKey,
      SYNC_BYTES: 's3-presign',
      NEED_DEBOUNCE_SECONDS: '0',
      ZSTD_LEVEL: '1',
      SYNC_MANIFEST_DEBOUNCE_MS: '0',
    });
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await s3.close();
  });

  it('redirects to a presigned URL that serves the bundle, whole and by range; others get 404', async () => {
    const bureau = await createBureauUser(t, await loginAdmin(t));
    const { terminal, bundle } = await schoolWithBundle(t, bureau, 'S3-SYNC', 200_000);
    const auth = { Authorization: `Bearer ${terminal.token}` };
    const hop = await fetch(`${t.url}${bundle.url}`, { headers: auth, redirect: 'manual' });
    expect(hop.status).toBe(302);
    const location = hop.headers.get('location') as string;
    expect(location).toContain('X-Amz-Signature=');
    expect(location.startsWith(s3.endpoint)).toBe(true);
    const whole = Buffer.from(await (await fetch(location)).arrayBuffer());
    expect(sha(whole)).toBe(bundle.sha256);
    const part = await fetch(location, { headers: { Range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(100, 200))).toBe(true);
    // The check happens before the hand-off: another school's terminal never gets a URL.
    const other = await schoolWithBundle(t, bureau, 'S3-OTHER', 1000);
    const foreign = await fetch(`${t.url}${bundle.url}`, {
      headers: { Authorization: `Bearer ${other.terminal.token}` },
      redirect: 'manual',
    });
    expect(foreign.status).toBe(404);
  }, 180_000);
});
