import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { BlobDriver, ByteRange, StagedFile } from './blob-store';
import { FsBlobDriver } from './fs-blob.driver';
import { unlinkQuietly } from './fs-util';
import type { S3BlobDriver } from './s3-blob.driver';
import { StagingArea, type StageOptions } from './staging-area';
import { STORAGE_OPTIONS, type StorageOptions } from './storage.options';

/** Old enough that no live upload can still be writing it: mtime moves with every write. */
const STALE_STAGING_MS = 24 * 60 * 60 * 1000;

/**
 * The content-addressed blob store: bytes are staged to local disk while hashed, then committed
 * under their sha256. Callers never see a partial blob, and the same bytes are stored once.
 */
@Injectable()
export class StorageService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(StorageService.name);
  private readonly staging: StagingArea;
  private readonly driver: BlobDriver;

  constructor(@Inject(STORAGE_OPTIONS) options: StorageOptions) {
    this.staging = new StagingArea(join(options.dataDir, 'tmp'));
    this.driver = createBlobDriver(options);
  }

  get driverName(): BlobDriver['name'] {
    return this.driver.name;
  }

  async onModuleInit(): Promise<void> {
    await this.staging.prepare();
    if (this.driver instanceof FsBlobDriver) await this.driver.ensureRoot();
    const swept = await this.staging.sweep(STALE_STAGING_MS);
    if (swept > 0) {
      this.logger.log(`removed ${swept} stale staging file(s) from ${this.staging.dir}`);
    }
  }

  /** Removes staging and work files older than `olderThanMs` (crash leftovers); returns how many. */
  sweepWorkFiles(olderThanMs: number): Promise<number> {
    return this.staging.sweep(olderThanMs);
  }

  onModuleDestroy(): void {
    if (this.driver.name === 's3') (this.driver as S3BlobDriver).destroy();
  }

  /**
   * Streams `source` into the staging area while hashing it.
   * @throws AppError payload_too_large, truncated_upload (the source failed or ended early),
   *   checksum_mismatch; nothing is left behind in any of these cases.
   */
  stage(source: Readable, options: StageOptions = {}): Promise<StagedFile> {
    return this.staging.stage(source, options);
  }

  /** Hashes a complete local file in place (no copy); commit then moves it into the store. */
  stageExisting(
    localPath: string,
    options: Pick<StageOptions, 'expectedSha256'> = {},
  ): Promise<StagedFile> {
    return this.staging.stageExisting(localPath, options);
  }

  /** See BlobDriver.commit: on failure the staged file stays, for a retry or discard(). */
  commit(staged: StagedFile, mediaType?: string): Promise<{ created: boolean }> {
    return this.driver.commit(staged, mediaType);
  }

  async discard(staged: StagedFile): Promise<void> {
    await unlinkQuietly(staged.path);
  }

  /** @throws AppError not_found, or bad_request for a range starting past the end. */
  open(sha256: string, range?: ByteRange): Promise<Readable> {
    return this.driver.open(sha256, range);
  }

  /** A presigned GET URL (S3 driver only). */
  presignedGet(
    sha256: string,
    expiresSeconds: number,
    response: { contentType: string; cacheControl: string; fileName?: string },
  ): Promise<string> {
    if (this.driver.name !== 's3') throw new Error('presigned URLs need the s3 storage driver');
    return (this.driver as S3BlobDriver).presignedGet(sha256, expiresSeconds, response);
  }

  size(sha256: string): Promise<number | null> {
    return this.driver.size(sha256);
  }

  has(sha256: string): Promise<boolean> {
    return this.driver.has(sha256);
  }

  delete(sha256: string): Promise<void> {
    return this.driver.delete(sha256);
  }

  checkWritable(): Promise<void> {
    return this.driver.checkWritable();
  }
}

function createBlobDriver(options: StorageOptions): BlobDriver {
  switch (options.driver) {
    case 'fs':
      return new FsBlobDriver(options.dataDir);
    case 's3':
      if (!options.s3)
        throw new Error('the s3 storage driver needs its s3 options (bucket, region)');
      {
        // The AWS SDK is loaded only when S3 is configured: it costs tens of MB of memory.
        const { S3BlobDriver: Driver } =
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          require('./s3-blob.driver') as typeof import('./s3-blob.driver');
        return new Driver(options.s3);
      }
  }
}
