import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AppError } from '../../../common/errors/app-error';
import {
  BUNDLE_FORMAT,
  MANIFEST_MEMBER,
  MANIFEST_SIGNATURE_MEMBER,
  bundleTrustedComment,
  canonicalManifest,
  compareText,
  serializeManifest,
  type BundleAudience,
  type BundleLesson,
  type BundleManifest,
  type BundleTarget,
} from './bundle-manifest';
import { encodeFile, type EncodedFile, type LocalFile } from './encode-file';
import { minisignSignature } from './minisign';
import {
  syncDirectory,
  tarMemberSize,
  writeFileAtomically,
  writeTarAtomically,
  type TarMember,
} from './bundle-file';

export interface BuildFile {
  /** One produced file the audience lacks, as it is installed (sha256 and size of those bytes). */
  sha256: string;
  size: number;
  mediaType: string;
  /** The produced bytes on local disk (the caller stages blobs there). */
  localPath: string;
  /** A version the audience already holds, for a delta. */
  base?: LocalFile;
  targets: BundleTarget[];
}

export interface BuildInput {
  bundleId: string;
  audience: BundleAudience;
  lessons: BundleLesson[];
  /** Files with the same sha256 are merged into one entry with all their targets. */
  files: BuildFile[];
  zstdLevel: number;
  patchMaxBaseBytes: number;
  /** Compressed and patch files are written under it, and removed when the build ends. */
  workDir: string;
  signer: { keyId: string; seed: Buffer };
  /** 0..1; an exception thrown here aborts the build (nothing is left at the output path). */
  onProgress?: (fraction: number) => void;
  /** Every localPath (and base) was already checked against its sha256 by the caller. */
  inputsVerified?: boolean;
}

export interface BuiltBundle {
  sha256: string;
  size: number;
  manifest: BundleManifest;
  manifestJson: string;
  /** Bytes of the files the bundle produces, against bundleBytes: what encoding saved. */
  sourceBytes: number;
  bundleBytes: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Encoding is most of the CPU time; writing the tar is mostly I/O. */
const ENCODE_SHARE = 0.6;

/**
 * Builds a classcast-bundle/1 tar at `outputPath` and its whole-bundle signature at
 * `<outputPath>.minisig`. Both appear atomically (temporary name, fsync, rename), so a reader or a
 * crash never sees half a bundle; the same inputs give byte-identical files, so a retried job
 * just rewrites the same bytes.
 * @throws AppError checksum_mismatch when a local file is not the blob it claims to be,
 *   internal_error for invalid input or a failing zstd; nothing is left at `outputPath` then.
 */
export async function buildBundle(input: BuildInput, outputPath: string): Promise<BuiltBundle> {
  checkInput(input);
  const files = mergeFiles(input.files);
  await mkdir(input.workDir, { recursive: true });
  await mkdir(dirname(outputPath), { recursive: true });
  const workDir = await mkdtemp(join(input.workDir, 'bundle-'));
  try {
    const progress = progressReporter(input.onProgress, files);

    const encoded: { file: BuildFile; encoding: EncodedFile }[] = [];
    for (const file of files) {
      const encoding = await encodeFile(file, {
        zstdLevel: input.zstdLevel,
        patchMaxBaseBytes: input.patchMaxBaseBytes,
        workDir,
        inputsVerified: input.inputsVerified,
      });
      encoded.push({ file, encoding });
      progress.encoded(file.size);
    }

    const manifest = canonicalManifest({
      format: BUNDLE_FORMAT,
      bundleId: input.bundleId,
      audience: input.audience,
      lessons: input.lessons,
      entries: encoded.map(({ file, encoding }) => ({
        member: encoding.member,
        encoding: encoding.encoding,
        base: encoding.base,
        sha256: file.sha256,
        size: file.size,
        targets: file.targets,
      })),
    });
    const manifestJson = serializeManifest(manifest);
    const comment = bundleTrustedComment(input.bundleId);
    const { keyId, seed } = input.signer;
    const manifestSignature = minisignSignature(Buffer.from(manifestJson), keyId, seed, comment);

    const members: TarMember[] = [
      { name: MANIFEST_MEMBER, bytes: Buffer.from(manifestJson) },
      { name: MANIFEST_SIGNATURE_MEMBER, bytes: Buffer.from(manifestSignature) },
      ...encoded
        .map(({ encoding }) => encoding)
        .sort((a, b) => compareText(a.member, b.member))
        .map((e) => ({
          name: e.member,
          size: e.memberSize,
          open: () => createReadStream(e.memberPath),
        })),
    ];
    progress.startWriting(members);
    const tempSuffix = `.tmp-${randomBytes(6).toString('hex')}`;
    const written = await writeTarAtomically(outputPath, tempSuffix, members, (member) =>
      progress.written(member),
    );
    const bundleSignature = minisignSignature(
      { blake2b512: written.blake2b512 },
      keyId,
      seed,
      comment,
    );
    await writeFileAtomically(`${outputPath}.minisig`, tempSuffix, bundleSignature);
    await syncDirectory(outputPath);
    progress.done();

    return {
      sha256: written.sha256,
      size: written.size,
      manifest,
      manifestJson,
      sourceBytes: files.reduce((sum, f) => sum + f.size, 0),
      bundleBytes: written.size,
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Files sorted by sha256, one per sha256, with the targets of all duplicates. */
function mergeFiles(files: BuildFile[]): BuildFile[] {
  const bySha = new Map<string, BuildFile>();
  for (const file of [...files].sort((a, b) => compareText(a.sha256, b.sha256))) {
    const seen = bySha.get(file.sha256);
    if (!seen) {
      bySha.set(file.sha256, { ...file, targets: [...file.targets] });
      continue;
    }
    if (seen.size !== file.size) {
      throw new AppError('internal_error', `file ${file.sha256} is listed with two sizes`);
    }
    seen.targets.push(...file.targets);
    // What is kept must not depend on the caller's order, or a rebuild could differ: the media
    // type decides compression, the base decides the patch.
    if (compareText(file.mediaType, seen.mediaType) < 0) seen.mediaType = file.mediaType;
    if (file.base && (!seen.base || compareText(file.base.sha256, seen.base.sha256) < 0)) {
      seen.base = file.base;
    }
  }
  return [...bySha.values()];
}

function checkInput(input: BuildInput): void {
  const problems: string[] = [];
  // The id ends up in a minisign comment line and in file names of the caller's choosing.
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(input.bundleId)) problems.push('bundleId');
  if (input.audience.id === '') problems.push('audience.id');
  if (!Number.isSafeInteger(input.patchMaxBaseBytes) || input.patchMaxBaseBytes < 0) {
    problems.push('patchMaxBaseBytes');
  }
  const lessons = new Set(input.lessons.map((l) => `${l.lessonId}\n${l.version}`));
  for (const file of input.files) {
    if (!SHA256_HEX.test(file.sha256)) problems.push(`files: sha256 ${file.sha256}`);
    if (file.base && !SHA256_HEX.test(file.base.sha256)) {
      problems.push(`files: base ${file.base.sha256}`);
    }
    if (file.targets.length === 0) problems.push(`files: ${file.sha256} has no target`);
    for (const t of file.targets) {
      // Every file must land in a lesson version the bundle declares it brings.
      if (!lessons.has(`${t.lessonId}\n${t.version}`)) {
        problems.push(
          `files: ${file.sha256} targets lesson ${t.lessonId} v${t.version}, not in lessons`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new AppError(
      'internal_error',
      `invalid bundle build input: ${problems.join('; ')}`,
      problems,
    );
  }
}

/**
 * Reports a fraction that only grows: the encode phase by source bytes, then the tar by bytes
 * written. An exception from the callback propagates and aborts the build.
 */
function progressReporter(
  onProgress: ((fraction: number) => void) | undefined,
  files: BuildFile[],
) {
  const encodeTotal = files.reduce((sum, f) => sum + f.size, 0) || 1;
  let encodedBytes = 0;
  let writeTotal = 1;
  let writtenBytes = 0;
  const report = (fraction: number): void => onProgress?.(Math.min(1, fraction));
  return {
    encoded(bytes: number): void {
      encodedBytes += bytes;
      report((ENCODE_SHARE * encodedBytes) / encodeTotal);
    },
    startWriting(members: TarMember[]): void {
      writeTotal = members.reduce((sum, m) => sum + tarMemberSize(m), 0) || 1;
    },
    written(member: TarMember): void {
      writtenBytes += tarMemberSize(member);
      report(ENCODE_SHARE + ((1 - ENCODE_SHARE) * writtenBytes) / writeTotal);
    },
    done(): void {
      report(1);
    },
  };
}
