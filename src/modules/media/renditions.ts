/**
 * One lesson file, one device profile: the rendition to ship, or why the source ships instead,
 * or why this file cannot be rendered (the rest of the lesson still ships). The caller caches the
 * result under (source sha256, profileKey(profile)) so a source is transcoded once per profile.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, parse, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { probe, type MediaProbe } from './ffmpeg';
import { formatSeconds, MediaError } from './media-error';
import { renditionPlan, type DeviceProfile, type RenditionPlan } from './profiles';
import { renderAudio, renderImage, renderVideo } from './render';
import { analyseStillness } from './still-image';

export interface RenditionSource {
  path: string;
  mediaType: string;
  size: number;
}

export interface RenderForOptions {
  /** Budget for the whole file: probing, slide detection and encoding together. */
  timeoutMs: number;
  /** Non-decreasing fraction in [0, 1], ending at 1 when the rendition is ready. */
  onProgress?: (fraction: number) => void;
}

export type RenditionResult =
  | { state: 'ready'; path: string; size: number; sha256: string; mediaType: string }
  | { state: 'skipped'; reason: 'not_smaller' | 'kept_as_is' }
  | { state: 'failed'; reason: string };

/** Seconds of video decoded to decide whether it is a slide lecture. */
const STILLNESS_SAMPLE_SECONDS = 60;
/** Share of progress given to slide detection; encoding takes the rest. */
const DETECTION_SHARE = 0.1;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

class Deadline {
  private readonly endsAt: number;

  constructor(readonly totalMs: number) {
    this.endsAt = Date.now() + totalMs;
  }

  remainingMs(): number {
    const left = this.endsAt - Date.now();
    if (left <= 0) throw new MediaError('timeout', 'out of time');
    return left;
  }
}

function monotonic(onProgress?: (fraction: number) => void): (fraction: number) => void {
  let last = 0;
  return (fraction) => {
    if (fraction <= last) return;
    last = Math.min(1, fraction);
    onProgress?.(last);
  };
}

type Encoded = { path: string; mediaType: string };

async function encodeVideo(
  source: RenditionSource,
  plan: Extract<RenditionPlan, { kind: 'video' }>,
  outputBase: string,
  deadline: Deadline,
  progress: (fraction: number) => void,
): Promise<Encoded> {
  const probed: MediaProbe = await probe(source.path, { timeoutMs: deadline.remainingMs() });
  if (!probed.video) {
    // Audio in an MP4 container is often declared video/mp4: render it as what it is.
    const path = `${outputBase}.audio.aac48.m4a`;
    await renderAudio(source.path, path, {
      timeoutMs: deadline.remainingMs(),
      source: probed,
      onProgress: progress,
    });
    return { path, mediaType: 'audio/mp4' };
  }
  const stillness = await analyseStillness(source.path, {
    timeoutMs: deadline.remainingMs(),
    sampleSeconds: STILLNESS_SAMPLE_SECONDS,
    durationSeconds: probed.durationSeconds,
    onProgress: (f) => progress(f * DETECTION_SHARE),
  });
  const path = `${outputBase}.${plan.key}.${plan.extension}`;
  await renderVideo(source.path, path, {
    height: plan.height,
    stillImage: stillness.mostlyStatic,
    timeoutMs: deadline.remainingMs(),
    source: probed,
    onProgress: (f) => progress(DETECTION_SHARE + f * (1 - DETECTION_SHARE)),
  });
  return { path, mediaType: plan.mediaType };
}

async function encode(
  source: RenditionSource,
  plan: Exclude<RenditionPlan, { kind: 'keep' }>,
  outputBase: string,
  deadline: Deadline,
  progress: (fraction: number) => void,
): Promise<Encoded> {
  switch (plan.kind) {
    case 'video':
      return encodeVideo(source, plan, outputBase, deadline, progress);
    case 'audio': {
      const path = `${outputBase}.${plan.key}.${plan.extension}`;
      await renderAudio(source.path, path, {
        timeoutMs: deadline.remainingMs(),
        onProgress: progress,
      });
      return { path, mediaType: plan.mediaType };
    }
    case 'image': {
      const path = `${outputBase}.${plan.key}.${plan.extension}`;
      await renderImage(source.path, path, { ...plan, timeoutMs: deadline.remainingMs() });
      return { path, mediaType: plan.mediaType };
    }
  }
}

/** Server paths mean nothing to the bureau reading a failure reason; file names do. */
function readableReason(error: MediaError, dirs: string[], deadline: Deadline): string {
  if (error.kind === 'timeout') return `timed out after ${formatSeconds(deadline.totalMs)} s`;
  let reason = error.message.replace(/\bfile:/g, '');
  for (const dir of dirs) reason = reason.split(`${dir}${sep}`).join('');
  return reason;
}

/**
 * Renders `source` for `profile` into `workDir` (one directory per job: outputs are named after
 * the source file). Never throws for bad media; throws for programming and I/O errors.
 */
export async function renderFor(
  source: RenditionSource,
  profile: DeviceProfile,
  workDir: string,
  opts: RenderForOptions,
): Promise<RenditionResult> {
  const plan = renditionPlan(source, profile);
  if (plan.kind === 'keep') return { state: 'skipped', reason: 'kept_as_is' };

  const deadline = new Deadline(opts.timeoutMs);
  const progress = monotonic(opts.onProgress);
  await mkdir(workDir, { recursive: true });
  const outputBase = join(workDir, parse(basename(source.path)).name);
  let encoded: Encoded;
  try {
    encoded = await encode(source, plan, outputBase, deadline, progress);
  } catch (error) {
    if (error instanceof MediaError) {
      return {
        state: 'failed',
        reason: readableReason(error, [dirname(source.path), workDir], deadline),
      };
    }
    throw error;
  }

  const { size } = await stat(encoded.path);
  if (size >= source.size) {
    await rm(encoded.path, { force: true });
    return { state: 'skipped', reason: 'not_smaller' };
  }
  const sha256 = await sha256File(encoded.path);
  progress(1);
  return { state: 'ready', path: encoded.path, size, sha256, mediaType: encoded.mediaType };
}

// The module's entry point for callers: what a profile needs is decided in profiles.ts.
export { profileKey, renditionPlan, rung240, type DeviceProfile } from './profiles';
