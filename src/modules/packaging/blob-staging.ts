import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageService } from '../storage/storage.service';

export class BlobCorruptError extends Error {
  constructor(
    readonly sha256: string,
    readonly actual: string,
  ) {
    super(
      `blob ${sha256} is corrupt in storage (its bytes hash to ${actual}); restore it from backup or upload the file again`,
    );
    this.name = 'BlobCorruptError';
  }
}

/**
 * Copies a blob to a local work file, checking its sha256 on the way: a blob damaged in storage
 * must fail the work that reads it, never travel on as wrong bytes.
 */
export async function stageBlob(
  storage: StorageService,
  sha256: string,
  path: string,
): Promise<void> {
  const hash = createHash('sha256');
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(await storage.open(sha256), check, createWriteStream(path));
  const actual = hash.digest('hex');
  if (actual !== sha256) throw new BlobCorruptError(sha256, actual);
}
