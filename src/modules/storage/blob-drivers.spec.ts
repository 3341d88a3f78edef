import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  S3RVER_KEYS,
  TEST_BUCKET,
  chunked,
  failingSource,
  filesUnder,
  makeTempDir,
  readAll,
  sha256Of,
  startLocalS3,
  type LocalS3,
} from '../../../test/storage/storage-fixtures';
import { StorageService } from './storage.service';
import type { StorageOptions } from './storage.options';

let localS3: LocalS3;
let baseDir: string;

beforeAll(async () => {
  localS3 = await startLocalS3();
  baseDir = await makeTempDir('storage-drivers');
});

afterAll(async () => {
  await localS3.close();
  await rm(baseDir, { recursive: true, force: true });
});

function s3Options(bucket = TEST_BUCKET): NonNullable<StorageOptions['s3']> {
  return {
    endpoint: localS3.endpoint,
    bucket,
    region: 'us-east-1',
    forcePathStyle: true,
    ...S3RVER_KEYS,
  };
}

/** What the store holds, seen from outside the driver under test. */
async function listStored(options: StorageOptions): Promise<string[]> {
  if (options.driver === 'fs') return filesUnder(join(options.dataDir, 'blobs'));
  const client = new S3Client({
    endpoint: localS3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_KEYS,
  });
  try {
    const listing = await client.send(
      new ListObjectsV2Command({ Bucket: TEST_BUCKET, Prefix: 'blobs/' }),
    );
    return (listing.Contents ?? []).map((object) => object.Key ?? '');
  } finally {
    client.destroy();
  }
}

describe.each(['fs', 's3'] as const)('blob store with the %s driver', (driver) => {
  let options: StorageOptions;
  let storage: StorageService;
  const tmpEntries = () => readdir(join(options.dataDir, 'tmp'));

  beforeAll(async () => {
    options = {
      driver,
      dataDir: join(baseDir, driver),
      s3: driver === 's3' ? s3Options() : undefined,
    };
    storage = new StorageService(options);
    await storage.onModuleInit();
  });

  afterAll(() => storage.onModuleDestroy());

  it('stages while hashing, commits, and serves back the same bytes', async () => {
    const content = randomBytes(300_000);
    const staged = await storage.stage(chunked(content));
    expect(staged).toMatchObject({ sha256: sha256Of(content), size: content.length });
    expect(staged.head.equals(content.subarray(0, 8192))).toBe(true);

    await expect(storage.commit(staged, 'application/octet-stream')).resolves.toEqual({
      created: true,
    });
    expect(existsSync(staged.path)).toBe(false);
    expect((await readAll(await storage.open(staged.sha256))).equals(content)).toBe(true);
    expect(await storage.size(staged.sha256)).toBe(content.length);
  });

  it('stores a blob larger than one upload part whole', async () => {
    const content = randomBytes(17 * 1024 * 1024 + 123);
    const staged = await storage.stage(chunked(content, 1024 * 1024));
    await storage.commit(staged);
    const served = await readAll(await storage.open(staged.sha256));
    expect(served.length).toBe(content.length);
    expect(sha256Of(served)).toBe(sha256Of(content));
  });

  it('stores an empty file', async () => {
    const staged = await storage.stage(chunked(Buffer.alloc(0)));
    expect(staged).toMatchObject({ sha256: sha256Of(Buffer.alloc(0)), size: 0 });
    await storage.commit(staged);
    expect(await storage.size(staged.sha256)).toBe(0);
    expect((await readAll(await storage.open(staged.sha256))).length).toBe(0);
  });

  it('stores identical content once', async () => {
    const content = randomBytes(40_000);
    const before = await listStored(options);
    const first = await storage.stage(chunked(content));
    const second = await storage.stage(chunked(content));

    expect(await storage.commit(first)).toEqual({ created: true });
    expect(await storage.commit(second)).toEqual({ created: false });
    expect(existsSync(first.path)).toBe(false);
    expect(existsSync(second.path)).toBe(false);
    expect((await listStored(options)).length).toBe(before.length + 1);
  });

  it('serves exactly the bytes of a range, cut at the end of the blob', async () => {
    const content = randomBytes(100_000);
    const staged = await storage.stage(chunked(content));
    await storage.commit(staged);

    const middle = await readAll(await storage.open(staged.sha256, { start: 1000, end: 70_999 }));
    expect(middle.equals(content.subarray(1000, 71_000))).toBe(true);
    const single = await readAll(await storage.open(staged.sha256, { start: 5, end: 5 }));
    expect(single.equals(content.subarray(5, 6))).toBe(true);
    const tail = await readAll(await storage.open(staged.sha256, { start: 99_990, end: 200_000 }));
    expect(tail.equals(content.subarray(99_990))).toBe(true);

    await expect(
      storage.open(staged.sha256, { start: 100_000, end: 100_010 }),
    ).rejects.toMatchObject({ code: 'bad_request' });
    await expect(storage.open(staged.sha256, { start: 10, end: 9 })).rejects.toMatchObject({
      code: 'bad_request',
    });
  });

  it('refuses more than maxBytes and keeps nothing', async () => {
    const before = await listStored(options);
    await expect(
      storage.stage(chunked(randomBytes(200_000)), { maxBytes: 150_000 }),
    ).rejects.toMatchObject({ code: 'payload_too_large', status: 413 });
    expect(await tmpEntries()).toEqual([]);
    expect(await listStored(options)).toEqual(before);
  });

  it('accepts exactly maxBytes', async () => {
    const staged = await storage.stage(chunked(randomBytes(150_000)), { maxBytes: 150_000 });
    expect(staged.size).toBe(150_000);
    await storage.discard(staged);
    expect(await tmpEntries()).toEqual([]);
  });

  it('refuses content whose sha256 differs from the announced one and keeps nothing', async () => {
    const content = randomBytes(50_000);
    const before = await listStored(options);
    await expect(
      storage.stage(chunked(content), { expectedSha256: sha256Of(Buffer.from('other')) }),
    ).rejects.toMatchObject({ code: 'checksum_mismatch', status: 460 });
    expect(await tmpEntries()).toEqual([]);
    expect(await listStored(options)).toEqual(before);

    const staged = await storage.stage(chunked(content), {
      expectedSha256: sha256Of(content).toUpperCase(),
    });
    expect(staged.sha256).toBe(sha256Of(content));
    await storage.discard(staged);
  });

  it.each([
    ['fails', Object.assign(new Error('aborted'), { code: 'ECONNRESET' })],
    ['stops without an error', undefined],
  ])('reports truncated_upload when the source %s mid-way, keeping nothing', async (_, error) => {
    const content = randomBytes(120_000);
    const before = await listStored(options);
    await expect(storage.stage(failingSource(content, 60_000, error))).rejects.toMatchObject({
      code: 'truncated_upload',
      message: 'the upload ended before all bytes arrived; send it again',
    });
    expect(await tmpEntries()).toEqual([]);
    expect(await listStored(options)).toEqual(before);
    expect(await storage.has(sha256Of(content))).toBe(false);
    expect(await storage.has(sha256Of(content.subarray(0, 60_000)))).toBe(false);
  });

  it('answers has, size and delete, and deleting twice is harmless', async () => {
    const staged = await storage.stage(chunked(randomBytes(10_000)));
    const { sha256 } = staged;
    expect(await storage.has(sha256)).toBe(false);
    expect(await storage.size(sha256)).toBeNull();
    await storage.commit(staged);
    expect(await storage.has(sha256)).toBe(true);
    expect(await storage.size(sha256)).toBe(10_000);

    await storage.delete(sha256);
    await storage.delete(sha256);
    expect(await storage.has(sha256)).toBe(false);
    expect(await storage.size(sha256)).toBeNull();
    await expect(storage.open(sha256)).rejects.toMatchObject({ code: 'not_found', status: 404 });
  });

  it.each(['ABC', '../../../etc/passwd', 'A'.repeat(64), `${'a'.repeat(64)}/x`])(
    'refuses %s as a blob id',
    async (id) => {
      await expect(storage.has(id)).rejects.toMatchObject({ code: 'bad_request' });
      await expect(storage.open(id)).rejects.toMatchObject({ code: 'bad_request' });
      await expect(storage.delete(id)).rejects.toMatchObject({ code: 'bad_request' });
    },
  );

  it('proves the store writable', async () => {
    const before = await listStored(options);
    await expect(storage.checkWritable()).resolves.toBeUndefined();
    expect(await listStored(options)).toEqual(before);
  });
});

describe('s3 driver against a missing bucket', () => {
  it('fails checkWritable', async () => {
    const storage = new StorageService({
      driver: 's3',
      dataDir: join(baseDir, 's3-missing'),
      s3: s3Options('no-such-bucket'),
    });
    try {
      await expect(storage.checkWritable()).rejects.toMatchObject({ name: 'NoSuchBucket' });
    } finally {
      storage.onModuleDestroy();
    }
  });
});
