import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AppError } from '../../common/errors/app-error';
import {
  assertRange,
  assertSha256,
  rangeNotSatisfiable,
  type BlobDriver,
  type ByteRange,
  type StagedFile,
} from './blob-store';
import { unlinkQuietly } from './fs-util';
import type { S3StorageOptions } from './storage.options';

const PART_SIZE = 8 * 1024 * 1024;
/** Memory held by one commit is about PART_SIZE * (PARTS_IN_FLIGHT + 1). */
const PARTS_IN_FLIGHT = 2;

/** Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW) under `blobs/<sha256>`. */
export class S3BlobDriver implements BlobDriver {
  readonly name = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(options: S3StorageOptions) {
    const { accessKeyId, secretAccessKey } = options;
    this.bucket = options.bucket;
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      // Without keys the SDK's default chain applies (instance role, AWS_* variables).
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
      // The SDK's default CRC trailers are not understood by every S3-compatible server; blobs
      // are verified by their sha256 key instead.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.size(sha256)) !== null;
  }

  async size(sha256: string): Promise<number | null> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: keyOf(sha256) }),
      );
      return head.ContentLength ?? 0;
    } catch (err) {
      // A HEAD response has no body to tell a missing key from a missing bucket; checkWritable
      // is what catches the latter.
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async commit(staged: StagedFile, mediaType?: string): Promise<{ created: boolean }> {
    const key = keyOf(staged.sha256);
    if (await this.has(staged.sha256)) {
      await unlinkQuietly(staged.path);
      return { created: false };
    }
    // S3 shows an object only once its upload (single or multipart) completes, so readers never
    // see a partial blob. A concurrent commit of the same content uploads the same bytes again;
    // either write leaves a correct object.
    const body = createReadStream(staged.path);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: mediaType },
      partSize: PART_SIZE,
      queueSize: PARTS_IN_FLIGHT,
    });
    try {
      await upload.done();
    } finally {
      // A failed upload stops reading midway; without this the file descriptor waits for GC.
      body.destroy();
    }
    await unlinkQuietly(staged.path);
    return { created: true };
  }

  async open(sha256: string, range?: ByteRange): Promise<Readable> {
    const key = keyOf(sha256);
    if (range) assertRange(range);
    try {
      const object = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      if (!(object.Body instanceof Readable)) {
        throw new Error(`S3 returned a ${typeof object.Body} body for ${key}, not a Node stream`);
      }
      return object.Body;
    } catch (err) {
      // Only a missing key is not_found: a missing bucket is a broken deployment, not a 404.
      if (err instanceof NoSuchKey) throw AppError.notFound('blob');
      if (statusOf(err) === 416 && range) {
        throw rangeNotSatisfiable(range, (await this.size(sha256)) ?? 0);
      }
      throw err;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: keyOf(sha256) }));
  }

  async checkWritable(): Promise<void> {
    const Key = `health/${randomUUID()}`;
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: 'ok' }));
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
  }

  /**
   * A time-limited URL that fetches the blob straight from the bucket (Range works there too),
   * so the api hands big downloads off instead of relaying them.
   */
  async presignedGet(
    sha256: string,
    expiresSeconds: number,
    response: { contentType: string; cacheControl: string; fileName?: string },
  ): Promise<string> {
    // Loaded only when presigned downloads are configured.
    const { getSignedUrl } =
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@aws-sdk/s3-request-presigner') as typeof import('@aws-sdk/s3-request-presigner');
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: keyOf(sha256),
        ResponseContentType: response.contentType,
        ResponseCacheControl: response.cacheControl,
        ResponseContentDisposition: response.fileName
          ? `attachment; filename="${response.fileName}"`
          : undefined,
      }),
      { expiresIn: expiresSeconds },
    );
  }

  /** Closes idle keep-alive sockets, so a stopping process (or a test) can exit. */
  destroy(): void {
    this.client.destroy();
  }
}

function keyOf(sha256: string): string {
  assertSha256(sha256);
  return `blobs/${sha256}`;
}

function statusOf(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}
