/**
 * Encoders for one rendition each. Every output is written under a temporary name beside its
 * destination and renamed only when complete, so a killed or retried job never leaves a half
 * file where a finished one is expected. Same input, same bytes: metadata is dropped, muxers and
 * encoders run bit-exact, and x264's thread count is pinned (see X264_THREADS).
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type SharpModule from 'sharp';
import { fileInput, probe, runFfmpeg, type MediaProbe } from './ffmpeg';
import { formatSeconds, MediaError } from './media-error';
import type { RenderedImageFormat } from './profiles';

/**
 * x264 output depends on its threads: with several, and the bit-rate cap engaged on busy video,
 * the bytes differ run to run, so a retried rendition would make schools download (and patch) a
 * new file. One thread is byte-stable; run renditions side by side (MEDIA_CONCURRENCY) instead.
 */
const X264_THREADS = '1';
const CRF = '29';
const AUDIO_BITRATE = '48k';
/** Lecture video gains nothing from more; it would only cost satellite bytes. */
const MAX_FPS = '30';
/**
 * Capped CRF: CRF picks the quality, the cap keeps a busy scene from blowing the link budget
 * (ARCHITECTURE.md: 200-400 kbit/s is enough at 480p; 100 kbit/s for the 240p rung). Kbit/s of
 * video; the buffer is two seconds at the cap.
 */
const VIDEO_MAXRATE_KBPS: readonly { upToHeight: number; kbps: number }[] = [
  { upToHeight: 240, kbps: 100 },
  { upToHeight: 360, kbps: 200 },
  { upToHeight: 480, kbps: 400 },
  { upToHeight: Infinity, kbps: 800 },
];
/**
 * A rendition shorter than its source by more than this (1 s, or 2 % of a long one: containers
 * disagree on durations that much) was cut short by damage in the source.
 */
const TRUNCATION_TOLERANCE = { seconds: 1, share: 0.02 };
const BITEXACT = ['-fflags', '+bitexact', '-flags:v', '+bitexact', '-flags:a', '+bitexact'];
const NO_METADATA = ['-map_metadata', '-1', '-map_chapters', '-1', '-sn', '-dn'];

export interface RenderMediaOptions {
  /** Limit for each ffmpeg/ffprobe process this render starts. */
  timeoutMs: number;
  onProgress?: (fraction: number) => void;
  /** The source's probe when the caller already has it; probed otherwise. */
  source?: MediaProbe;
}

export interface RenderVideoOptions extends RenderMediaOptions {
  /** Target height; a smaller source keeps its own (never upscaled). */
  height: number;
  stillImage: boolean;
}

async function writeAtomically(
  output: string,
  write: (temp: string) => Promise<void>,
): Promise<void> {
  const temp = join(dirname(output), `.${basename(output)}.${randomBytes(6).toString('hex')}.part`);
  try {
    await write(temp);
    await rename(temp, output);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Damage that the demuxer skips over makes ffmpeg exit 0 with a short file: catch it here. */
async function checkComplete(temp: string, source: MediaProbe, timeoutMs: number): Promise<void> {
  const rendered = await probe(temp, { timeoutMs });
  const missing = source.durationSeconds - rendered.durationSeconds;
  const tolerance = Math.max(
    TRUNCATION_TOLERANCE.seconds,
    TRUNCATION_TOLERANCE.share * source.durationSeconds,
  );
  if (source.durationSeconds > 0 && missing > tolerance) {
    throw new MediaError(
      'corrupt',
      `truncated or damaged media: only ${rendered.durationSeconds.toFixed(1)} s of ` +
        `${source.durationSeconds.toFixed(1)} s could be decoded`,
    );
  }
}

function maxrateFor(height: number): number {
  return (VIDEO_MAXRATE_KBPS.find((rung) => height <= rung.upToHeight) ?? VIDEO_MAXRATE_KBPS[0])
    .kbps;
}

/** H.264/AAC MP4 with the index first (faststart), so playback can start before the end arrives. */
export async function renderVideo(
  input: string,
  output: string,
  opts: RenderVideoOptions,
): Promise<void> {
  const source = opts.source ?? (await probe(input, { timeoutMs: opts.timeoutMs }));
  if (!source.video) throw new MediaError('unsupported', 'no video stream in the file');
  const maxrate = maxrateFor(Math.min(opts.height, source.video.height));
  // Never upscale; yuv420p needs an even height, and -2 keeps the aspect ratio with an even width.
  // `ih` is the upright height: ffmpeg applies a phone's rotation flag before the filter.
  const scale = `scale=w=-2:h='min(${opts.height},trunc(ih/2)*2)',format=yuv420p`;
  const args = [
    ...fileInput(input),
    // `V`: the first real video stream, never a cover picture stored as one.
    ...['-map', '0:V:0', '-map', '0:a:0?', ...NO_METADATA],
    ...['-vf', scale, '-fpsmax', MAX_FPS],
    ...['-c:v', 'libx264', '-preset', 'medium', '-crf', CRF, '-threads', X264_THREADS],
    ...(opts.stillImage ? ['-tune', 'stillimage'] : []),
    ...['-maxrate', `${maxrate}k`, '-bufsize', `${maxrate * 2}k`],
    ...['-c:a', 'aac', '-b:a', AUDIO_BITRATE, '-ac', '1'],
    ...['-movflags', '+faststart', ...BITEXACT],
  ];
  await writeAtomically(output, async (temp) => {
    await runFfmpeg([...args, '-f', 'mp4', '-y', temp], {
      timeoutMs: opts.timeoutMs,
      durationSeconds: source.durationSeconds,
      onProgress: opts.onProgress,
    });
    await checkComplete(temp, source, opts.timeoutMs);
  });
}

/** Mono AAC-LC at speech rate in an M4A: a lecture's voice needs no more. */
export async function renderAudio(
  input: string,
  output: string,
  opts: RenderMediaOptions,
): Promise<void> {
  const source = opts.source ?? (await probe(input, { timeoutMs: opts.timeoutMs }));
  if (!source.audio) throw new MediaError('unsupported', 'no audio stream in the file');
  const args = [
    ...fileInput(input),
    ...['-map', '0:a:0', ...NO_METADATA],
    ...['-c:a', 'aac', '-b:a', AUDIO_BITRATE, '-ac', '1'],
    ...['-movflags', '+faststart', ...BITEXACT],
  ];
  await writeAtomically(output, async (temp) => {
    // The ipod muxer is MP4 with the M4A brand that audio players expect.
    await runFfmpeg([...args, '-f', 'ipod', '-y', temp], {
      timeoutMs: opts.timeoutMs,
      durationSeconds: source.durationSeconds,
      onProgress: opts.onProgress,
    });
    await checkComplete(temp, source, opts.timeoutMs);
  });
}

export interface RenderImageOptions {
  format: RenderedImageFormat;
  quality: number;
  maxDimension: number;
  /** Whole seconds (libvips' granularity), at least 1; none when absent. */
  timeoutMs?: number;
}

// sharp reports its own write failures in these words; they are the machine's fault, not the file's.
const SHARP_IO_FAILURE =
  /unable to open for write|No space left|Input file is missing|EACCES|ENOSPC/i;

/** Re-encodes a photo or screenshot: upright (EXIF orientation applied), no metadata, bounded size. */
export async function renderImage(
  input: string,
  output: string,
  opts: RenderImageOptions,
): Promise<void> {
  // Loaded on first use: libvips is large, and api-only processes never render images.
  const sharp = ((await import('sharp')) as unknown as { default: typeof SharpModule }).default;
  await writeAtomically(output, async (temp) => {
    const resized = sharp(input).rotate().resize({
      width: opts.maxDimension,
      height: opts.maxDimension,
      fit: 'inside',
      withoutEnlargement: true,
    });
    const encoded =
      opts.format === 'webp'
        ? resized.webp({ quality: opts.quality })
        : // JPEG has no alpha: a transparent PNG would otherwise turn black behind its content.
          resized.flatten({ background: '#ffffff' }).jpeg({ quality: opts.quality, mozjpeg: true });
    try {
      // sharp writes no metadata (EXIF, GPS, ICC) unless asked to.
      await encoded.toFile(temp);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (SHARP_IO_FAILURE.test(message)) throw error;
      if (/\btimeout: \d+% complete/.test(message)) {
        throw new MediaError(
          'timeout',
          `image encoding timed out after ${formatSeconds(opts.timeoutMs ?? 0)} s`,
        );
      }
      throw new MediaError('corrupt', `unreadable image: ${message}`);
    }
  });
}
