import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../common/errors/app-error';
import { HEAD_BYTES, type StagedFile } from './blob-store';
import { errnoCode, removeAfterFailure } from './fs-util';

export interface StageOptions {
  maxBytes?: number;
  /** Hex; when the bytes hash differently, nothing is kept and checksum_mismatch is thrown. */
  expectedSha256?: string;
}

/**
 * `<dataDir>/tmp`: the only place partial bytes ever live. A blob becomes visible only by an
 * atomic commit of a complete, hashed file, so a crash mid-upload leaves garbage here and
 * nothing in the store.
 */
export class StagingArea {
  constructor(readonly dir: string) {}

  async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** Removes leftovers of crashed processes; returns how many entries went. */
  async sweep(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      try {
        if ((await stat(path)).mtimeMs >= cutoff) continue;
        await rm(path, { recursive: true, force: true });
        removed++;
      } catch (err) {
        // Another process starting at the same time may have swept it first.
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
    }
    return removed;
  }

  async stage(source: Readable, options: StageOptions = {}): Promise<StagedFile> {
    const path = join(this.dir, randomUUID());
    const meter = new BlobMeter(options.maxBytes ?? Number.POSITIVE_INFINITY);
    const sink = createWriteStream(path, { flags: 'wx' });
    // pipeline() passes the first error on to every other stream, so only the first one heard
    // tells whether the client went away or our disk failed.
    let firstFailure: 'source' | 'store' | undefined;
    const onSourceError = () => (firstFailure ??= 'source');
    const onStoreError = () => (firstFailure ??= 'store');
    source.on('error', onSourceError);
    meter.on('error', onStoreError);
    sink.on('error', onStoreError);
    try {
      await pipeline(source, meter, sink);
    } catch (err) {
      await closed(sink);
      await removeAfterFailure(path);
      throw firstFailure === 'source' || errnoCode(err) === 'ERR_STREAM_PREMATURE_CLOSE'
        ? truncated(err)
        : err;
    } finally {
      source.off('error', onSourceError);
    }
    const staged = meter.result(path);
    const mismatch = checkDigest(staged, options.expectedSha256);
    if (mismatch) {
      await removeAfterFailure(path);
      throw mismatch;
    }
    return staged;
  }

  /**
   * Hashes a complete file that is already on local disk (a finished resumable upload) in place.
   * On a checksum mismatch the file is left alone: it belongs to whoever wrote it.
   */
  async stageExisting(
    localPath: string,
    options: Pick<StageOptions, 'expectedSha256'> = {},
  ): Promise<StagedFile> {
    const meter = new BlobMeter(Number.POSITIVE_INFINITY);
    const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
    await pipeline(createReadStream(localPath), meter, discard);
    const staged = meter.result(localPath);
    const mismatch = checkDigest(staged, options.expectedSha256);
    if (mismatch) throw mismatch;
    return staged;
  }
}

/** Hashes, counts and keeps the head of the bytes flowing through; stops them past a size limit. */
class BlobMeter extends Transform {
  private readonly hash = createHash('sha256');
  private readonly head: Buffer[] = [];
  private headLength = 0;
  private size = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  // decodeStrings (on by default) hands every chunk over as a Buffer.
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      done(
        new AppError(
          'payload_too_large',
          `the file is larger than the limit of ${this.maxBytes} bytes`,
          [{ field: 'file', message: 'too large', maxBytes: this.maxBytes }],
        ),
      );
      return;
    }
    this.hash.update(chunk);
    if (this.headLength < HEAD_BYTES) {
      // A copy, so the head does not keep a whole (possibly large) chunk alive.
      const part = Buffer.from(chunk.subarray(0, HEAD_BYTES - this.headLength));
      this.head.push(part);
      this.headLength += part.length;
    }
    done(null, chunk);
  }

  result(path: string): StagedFile {
    return {
      path,
      sha256: this.hash.digest('hex'),
      size: this.size,
      head: Buffer.concat(this.head),
    };
  }
}

function checkDigest(staged: StagedFile, expected: string | undefined): AppError | undefined {
  // Clients announce digests in either case of hex.
  if (expected === undefined || expected.toLowerCase() === staged.sha256) return undefined;
  const actual = staged.sha256;
  return new AppError(
    'checksum_mismatch',
    'the bytes received do not match the sha256 announced for them; send the file again',
    [{ field: 'sha256', message: 'does not match the content', expected, actual }],
  );
}

function truncated(cause: unknown): AppError {
  const error = new AppError(
    'truncated_upload',
    'the upload ended before all bytes arrived; send it again',
  );
  error.cause = cause;
  return error;
}

/** The sink may still be opening the file when the pipeline fails; unlinking before it closes could race its creation. */
async function closed(sink: WriteStream): Promise<void> {
  if (sink.closed) return;
  await new Promise<void>((resolve) => sink.once('close', () => resolve()));
}
