/**
 * The real pipeline on the sample term: renditions for one device profile (renderFor, cached by
 * source sha256 as the worker caches them), the produced tree a school ends up holding, and
 * bundles built from it with buildBundle.
 */
import { copyFile, mkdir, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { renderFor, sha256File, type DeviceProfile } from '../../src/modules/media/renditions';
import {
  buildBundle,
  type BuildFile,
  type BuiltBundle,
} from '../../src/modules/packaging/bundle/bundle-builder';
import type { BundleLesson } from '../../src/modules/packaging/bundle/bundle-manifest';
import { generateKeyPair, keyIdFor } from '../../src/modules/signing/ed25519';
import { cpuSecondsSoFar } from './term-process';
import type { FileKind, Term, TermFile } from './term-sample';

export const PROFILE_480P: DeviceProfile = {
  maxVideoHeight: 480,
  videoCodecs: ['h264'],
  imageFormats: ['webp', 'jpeg', 'png'],
};
/** The configured default (PATCH_MAX_BASE_MB=128). */
export const PATCH_MAX_BASE_BYTES = 128 * 1024 * 1024;
const RENDER_TIMEOUT_MS = 20 * 60_000;

export interface ProducedFile {
  file: TermFile;
  kind: FileKind;
  sourceSize: number;
  sourceSha256: string;
  /** What the school installs: the rendition, or the upload itself. */
  sha256: string;
  size: number;
  mediaType: string;
  localPath: string;
  outcome: 'rendition' | 'kept' | 'not smaller' | `failed: ${string}`;
  renderSeconds: number;
}

/** Renders each upload once per source sha256, like the worker's (source, profile) cache. */
export class Renditions {
  private readonly cache = new Map<string, Omit<ProducedFile, 'file' | 'kind'>>();
  private jobs = 0;

  constructor(
    private readonly workDir: string,
    private readonly profile: DeviceProfile,
  ) {}

  async produce(term: Term, log: (line: string) => void): Promise<ProducedFile[]> {
    const produced: ProducedFile[] = [];
    for (const file of term.files) {
      const sourceSha256 = await sha256File(file.localPath);
      let entry = this.cache.get(sourceSha256);
      if (!entry) {
        entry = await this.render(file, sourceSha256);
        this.cache.set(sourceSha256, entry);
        log(
          `${file.path}: ${entry.outcome}, ${mb(entry.sourceSize)} -> ${mb(entry.size)} MB ` +
            `in ${entry.renderSeconds.toFixed(1)} s`,
        );
      }
      produced.push({ ...entry, file, kind: file.kind });
    }
    return produced;
  }

  private async render(
    file: TermFile,
    sourceSha256: string,
  ): Promise<Omit<ProducedFile, 'file' | 'kind'>> {
    const { size: sourceSize } = await stat(file.localPath);
    // One directory per job: renderFor names outputs after the source file.
    const jobDir = join(this.workDir, `job-${String((this.jobs += 1)).padStart(3, '0')}`);
    const started = performance.now();
    const result = await renderFor(
      { path: file.localPath, mediaType: file.mediaType, size: sourceSize },
      this.profile,
      jobDir,
      { timeoutMs: RENDER_TIMEOUT_MS },
    );
    const renderSeconds = (performance.now() - started) / 1000;
    const source = {
      sourceSize,
      sourceSha256,
      sha256: sourceSha256,
      size: sourceSize,
      mediaType: file.mediaType,
      localPath: file.localPath,
      renderSeconds,
    };
    switch (result.state) {
      case 'ready':
        return {
          ...source,
          sha256: result.sha256,
          size: result.size,
          mediaType: result.mediaType,
          localPath: result.path,
          outcome: 'rendition',
        };
      case 'skipped':
        return { ...source, outcome: result.reason === 'not_smaller' ? 'not smaller' : 'kept' };
      case 'failed':
        return { ...source, outcome: `failed: ${result.reason}` };
    }
  }
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);

export const treePath = (f: TermFile) => `${f.lessonId}/${f.path}`;

/**
 * Copies what the school would hold into `<dir>/<lessonId>/<path>`, every file stamped `mtime`:
 * rsync's quick check (size and time) must skip unchanged files and look at changed ones.
 */
export async function writeProducedTree(
  dir: string,
  files: ProducedFile[],
  mtime: (file: ProducedFile) => Date,
): Promise<void> {
  for (const f of files) {
    const path = join(dir, treePath(f.file));
    await mkdir(dirname(path), { recursive: true });
    await copyFile(f.localPath, path);
    await utimes(path, mtime(f), mtime(f));
  }
}

export interface Signer {
  keyId: string;
  seed: Buffer;
}

export function benchSigner(): Signer {
  const { seed, publicKey } = generateKeyPair();
  return { keyId: keyIdFor(publicKey), seed };
}

export interface BundleSpec {
  bundleId: string;
  lessons: BundleLesson[];
  files: BuildFile[];
  zstdLevel: number;
}

/** Lesson files as BuildFiles of a given lesson version; `base` finds a held earlier version. */
export function buildFiles(
  produced: ProducedFile[],
  version: number,
  base?: (f: ProducedFile) => ProducedFile | undefined,
): BuildFile[] {
  return produced.map((f) => {
    const held = base?.(f);
    return {
      sha256: f.sha256,
      size: f.size,
      mediaType: f.mediaType,
      localPath: f.localPath,
      ...(held
        ? { base: { sha256: held.sha256, size: held.size, localPath: held.localPath } }
        : {}),
      targets: [{ lessonId: f.file.lessonId, version, path: f.file.path }],
    };
  });
}

export interface TimedBuild {
  built: BuiltBundle;
  path: string;
  seconds: number;
  cpuSeconds: number;
  /** Seconds until every file was encoded (sha256 checks, zstd, patches); the rest writes the tar. */
  encodeSeconds: number;
}

/** buildBundle into `outDir`, timed; the bundle stays there for the caller to inspect or delete. */
export async function timedBuild(
  spec: BundleSpec,
  outDir: string,
  workDir: string,
  signer: Signer,
): Promise<TimedBuild> {
  const path = join(outDir, `${spec.bundleId}.tar`);
  await rm(path, { force: true });
  await rm(`${path}.minisig`, { force: true });
  let encodeDone = 0;
  const cpuBefore = cpuSecondsSoFar();
  const started = performance.now();
  const built = await buildBundle(
    {
      bundleId: spec.bundleId,
      audience: { type: 'group', id: 'bench-term' },
      lessons: spec.lessons,
      files: spec.files,
      zstdLevel: spec.zstdLevel,
      patchMaxBaseBytes: PATCH_MAX_BASE_BYTES,
      workDir,
      signer,
      // As in the build service, whose staging already checked every input against its sha256;
      // the anchor (tar | zstd | sha256sum) does not check its inputs either.
      inputsVerified: true,
      onProgress: (fraction) => {
        // The builder gives the encode phase 60 % of the progress range.
        if (encodeDone === 0 && fraction >= 0.6 - 1e-9) encodeDone = performance.now();
      },
    },
    path,
  );
  const ended = performance.now();
  return {
    built,
    path,
    seconds: (ended - started) / 1000,
    cpuSeconds: cpuSecondsSoFar() - cpuBefore,
    encodeSeconds: ((encodeDone || ended) - started) / 1000,
  };
}
