import type { Readable } from 'node:stream';
import { AppError } from '../../common/errors/app-error';

/** A file fully written to local disk and hashed, waiting to become a blob. */
export interface StagedFile {
  path: string;
  sha256: string;
  size: number;
  /** The first bytes (at most HEAD_BYTES), for sniffing the media type from magic bytes. */
  head: Buffer;
}

/** Inclusive at both ends, as in an HTTP Range header. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobDriver {
  readonly name: 'fs' | 's3';
  has(sha256: string): Promise<boolean>;
  size(sha256: string): Promise<number | null>;
  /**
   * Moves or uploads a fully staged local file to its final key, atomically: readers see the
   * whole blob or none of it. Returns created=false when the blob already existed. The staged
   * file is removed on success either way; on failure it is left for the caller to retry or discard.
   */
  commit(staged: StagedFile, mediaType?: string): Promise<{ created: boolean }>;
  /**
   * Resolves once the blob is known to exist, so a missing blob surfaces as not_found before
   * any response header is sent. A range whose end lies past the blob is cut at its last byte.
   */
  open(sha256: string, range?: ByteRange): Promise<Readable>;
  /** Idempotent: deleting a missing blob succeeds. */
  delete(sha256: string): Promise<void>;
  /** Throws if the store cannot be written (used by /health/ready). */
  checkWritable(): Promise<void>;
}

export const HEAD_BYTES = 8192;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Every key is derived from the digest, so a malformed one could otherwise escape the store. */
export function assertSha256(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) {
    throw new AppError(
      'bad_request',
      'a blob id must be a sha256 digest in 64 lowercase hex digits',
    );
  }
}

export function assertRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new AppError('bad_request', `invalid byte range ${start}-${end}`);
  }
}

export function rangeNotSatisfiable(range: ByteRange, size: number): AppError {
  return new AppError(
    'bad_request',
    `byte range ${range.start}-${range.end} starts past the end of a ${size}-byte blob`,
  );
}
