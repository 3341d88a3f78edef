import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../../common/errors/app-error';
import { unlinkQuietly } from '../../storage/fs-util';
import { memberName, type BundleEncoding } from './bundle-manifest';
import { shouldCompress, zstdCompressFile, zstdPatch, zstdProbeSaving } from './compress';

/** Compression must save at least this much (on the probe sample, then for real) to be used. */
export const MIN_COMPRESSION_SAVING = 0.05;
const PROBE_SAMPLE_BYTES = 1024 * 1024;

export interface LocalFile {
  sha256: string;
  size: number;
  localPath: string;
}

export interface FileToEncode extends LocalFile {
  mediaType: string;
  /** A version the audience already holds, from which a patch can rebuild this file. */
  base?: LocalFile;
}

export interface EncodingOptions {
  zstdLevel: number;
  patchMaxBaseBytes: number;
  /** Where compressed and patch files are written; the caller removes it. */
  workDir: string;
  /**
   * The caller already checked every local file against its sha256 while staging it (the build
   * service does, reading from the blob store): only sizes are checked again then.
   */
  inputsVerified?: boolean;
}

export interface EncodedFile {
  member: string;
  encoding: BundleEncoding;
  base?: string;
  /** The bytes that go into the tar under `member`, and how many. */
  memberPath: string;
  memberSize: number;
}

/**
 * Picks the smallest encoding for one file: a patch from a held base when that beats the
 * alternative; otherwise zstd when the media type and a probe say it pays; otherwise the bytes as is.
 * The inputs are checked against their sha256 and size first: a bundle states both in its signed
 * manifest, and a terminal would reject a file that does not match.
 */
export async function encodeFile(
  file: FileToEncode,
  options: EncodingOptions,
): Promise<EncodedFile> {
  await (options.inputsVerified ? checkLocalSize(file) : checkLocalFile(file));
  let best: EncodedFile = {
    member: memberName('identity', file.sha256),
    encoding: 'identity',
    memberPath: file.localPath,
    memberSize: file.size,
  };

  const compressed = await compressIfWorthIt(file, options);
  if (compressed) best = compressed;

  const base = file.base;
  if (base && base.sha256 !== file.sha256 && base.size <= options.patchMaxBaseBytes) {
    await (options.inputsVerified ? checkLocalSize(base) : checkLocalFile(base));
    const member = memberName('zstd-patch', file.sha256, base.sha256);
    const path = join(options.workDir, `${base.sha256}-${file.sha256}.zst`);
    await zstdPatch(base.localPath, file.localPath, path, options.zstdLevel);
    const patch: EncodedFile = {
      member,
      encoding: 'zstd-patch',
      base: base.sha256,
      memberPath: path,
      memberSize: await sizeOf(path),
    };
    best = await better(best, patch);
  }
  return best;
}

/**
 * zstd when it saves at least MIN_COMPRESSION_SAVING: below that, the terminal's decoding work buys
 * next to nothing. Files bigger than the probe's sample are probed first, so that a large file that
 * will not shrink is not compressed whole for nothing; smaller ones are simply compressed.
 */
async function compressIfWorthIt(
  file: FileToEncode,
  options: EncodingOptions,
): Promise<EncodedFile | undefined> {
  if (file.size === 0 || !shouldCompress(file.mediaType)) return undefined;
  if (file.size > PROBE_SAMPLE_BYTES) {
    const saving = await zstdProbeSaving(file.localPath, options.zstdLevel, PROBE_SAMPLE_BYTES);
    if (saving < MIN_COMPRESSION_SAVING) return undefined;
  }
  const path = join(options.workDir, `${file.sha256}.zst`);
  await zstdCompressFile(file.localPath, path, options.zstdLevel);
  const size = await sizeOf(path);
  if (size > file.size * (1 - MIN_COMPRESSION_SAVING)) {
    await unlinkQuietly(path);
    return undefined;
  }
  return {
    member: memberName('zstd', file.sha256),
    encoding: 'zstd',
    memberPath: path,
    memberSize: size,
  };
}

/** Keeps the smaller candidate (the incumbent on a tie) and deletes the other's work file. */
async function better(current: EncodedFile, candidate: EncodedFile): Promise<EncodedFile> {
  const [keep, drop] =
    candidate.memberSize < current.memberSize ? [candidate, current] : [current, candidate];
  if (drop.encoding !== 'identity') await unlinkQuietly(drop.memberPath);
  return keep;
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** @throws AppError checksum_mismatch when the local bytes are not the ones the caller named. */
async function checkLocalSize(file: LocalFile): Promise<void> {
  const size = await sizeOf(file.localPath);
  if (size !== file.size) {
    throw new AppError(
      'checksum_mismatch',
      `${file.localPath} has ${size} bytes, not the ${file.size} of blob ${file.sha256}`,
    );
  }
}

export async function checkLocalFile(file: LocalFile): Promise<void> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file.localPath) as AsyncIterable<Buffer>) {
    size += chunk.length;
    hash.update(chunk);
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== file.sha256 || size !== file.size) {
    throw new AppError('checksum_mismatch', `${file.localPath} is not blob ${file.sha256}`, [
      { expected: { sha256: file.sha256, size: file.size }, actual: { sha256, size } },
    ]);
  }
}
