import { open, readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { AppError } from '../../../common/errors/app-error';
import { defaultTimeoutMs, runZstd } from './zstd-process';

/*
 * zstd through its CLI. Every run is single-threaded at an explicit level (`--single-thread`
 * gives the same bytes on any core count; `-T1` does not promise to), so a rebuilt bundle is
 * byte-identical. zstd frames carry no file name or time, unlike gzip's.
 */

export interface ZstdOptions {
  /** Kill the child after this long; defaults to 60 s plus 1 s per MiB of input. */
  timeoutMs?: number;
}

/** zstd decoders accept windows up to 2^27 (128 MiB) unless told more with --long or --memory. */
const DEFAULT_MAX_WINDOW_LOG = 27;
/** The largest window zstd supports on 64-bit machines. */
const MAX_WINDOW_LOG = 31;
const ZSTD_MAGIC = 0xfd2fb528;

export async function zstdCompressFile(
  input: string,
  output: string,
  level: number,
  options: ZstdOptions = {},
): Promise<void> {
  const { size } = await stat(input);
  await runZstd({
    args: [...baseArgs(level), '-o', output, '--', input],
    what: `compress ${input}`,
    timeoutMs: options.timeoutMs ?? defaultTimeoutMs(size),
  });
}

/**
 * The fraction of bytes compression saves on a sample of the file (0.3 = 30 % smaller), to skip
 * compressing a large file that would not shrink. The sample is up to four slices spread over the
 * file, since a head alone (an MP4's index, a PDF's text) often compresses unlike the rest.
 */
export async function zstdProbeSaving(
  input: string,
  level: number,
  sampleBytes = 1024 * 1024,
  options: ZstdOptions = {},
): Promise<number> {
  const sample = await readSample(input, sampleBytes);
  if (sample.length === 0) return 0;
  const { stdoutBytes } = await runZstd({
    args: [...baseArgs(level), '-c', '-'],
    what: `probe ${input}`,
    timeoutMs: options.timeoutMs ?? defaultTimeoutMs(sample.length),
    stdin: Readable.from([sample]),
  });
  return 1 - stdoutBytes / sample.length;
}

/**
 * A delta of `target` against `base` (`zstd --patch-from`). The encoder holds about twice the
 * base in memory and so does the decoder on the terminal: callers bound the base size.
 */
export async function zstdPatch(
  base: string,
  target: string,
  output: string,
  level: number,
  options: ZstdOptions = {},
): Promise<void> {
  const [{ size: baseSize }, { size: targetSize }] = await Promise.all([stat(base), stat(target)]);
  const windowLog = windowLogFor(Math.max(baseSize, targetSize));
  await runZstd({
    args: [
      ...baseArgs(level),
      `--patch-from=${base}`,
      ...longArgs(windowLog),
      '-o',
      output,
      '--',
      target,
    ],
    what: `patch ${target} from ${base}`,
    timeoutMs: options.timeoutMs ?? defaultTimeoutMs(baseSize + targetSize),
  });
}

/** Rebuilds the target of a zstdPatch; the window the patch needs is read from its frame header. */
export async function zstdApplyPatch(
  base: string,
  patch: string,
  output: string,
  options: ZstdOptions = {},
): Promise<void> {
  const [{ size: baseSize }, window] = await Promise.all([stat(base), zstdWindowSize(patch)]);
  await runZstd({
    args: [
      '-d',
      '-q',
      '-f',
      '--no-progress',
      `--patch-from=${base}`,
      ...longArgs(windowLogFor(window)),
      '-o',
      output,
      '--',
      patch,
    ],
    what: `apply ${patch} to ${base}`,
    timeoutMs: options.timeoutMs ?? defaultTimeoutMs(baseSize + window),
  });
}

export async function zstdDecompressFile(
  input: string,
  output: string,
  options: ZstdOptions = {},
): Promise<void> {
  const [{ size }, window] = await Promise.all([stat(input), zstdWindowSize(input)]);
  await runZstd({
    args: [
      '-d',
      '-q',
      '-f',
      '--no-progress',
      ...longArgs(windowLogFor(window)),
      '-o',
      output,
      '--',
      input,
    ],
    what: `decompress ${input}`,
    // Decoding runs at hundreds of MB/s: the compressed size bounds the work well enough.
    timeoutMs: options.timeoutMs ?? defaultTimeoutMs(size),
  });
}

/** Media formats that are compressed already: zstd gains under 4 % on them, so store as is. */
const STORED_AS_IS = new Set([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
  'image/heic',
  'application/pdf',
  'application/zip',
  'application/epub+zip',
  'application/gzip',
  'application/x-7z-compressed',
  'application/zstd',
  'application/x-xz',
  'application/x-bzip2',
  'font/woff',
  'font/woff2',
]);
/** Uncompressed PCM audio is the exception among audio types. */
const COMPRESSIBLE_AUDIO = new Set([
  'audio/wav',
  'audio/x-wav',
  'audio/wave',
  'audio/aiff',
  'audio/x-aiff',
]);

export function shouldCompress(mediaType: string): boolean {
  const type = mediaType.split(';')[0].trim().toLowerCase();
  if (type.startsWith('video/')) return false;
  if (type.startsWith('audio/')) return COMPRESSIBLE_AUDIO.has(type);
  return !STORED_AS_IS.has(type);
}

/**
 * The window size a zstd frame declares (RFC 8878, 3.1.1.1): a decoder refuses frames beyond its
 * memory limit, so a big patch needs `--long=<log>` to be applied.
 */
export async function zstdWindowSize(path: string): Promise<number> {
  const handle = await open(path, 'r');
  try {
    const header = Buffer.alloc(18);
    const { bytesRead } = await handle.read(header, 0, header.length, 0);
    if (bytesRead < 6 || header.readUInt32LE(0) !== ZSTD_MAGIC) {
      throw new AppError('internal_error', `${path} does not start with a zstd frame`);
    }
    const descriptor = header[4];
    const singleSegment = (descriptor & 0x20) !== 0;
    if (!singleSegment) {
      const windowByte = header[5];
      const windowBase = 2 ** (10 + (windowByte >> 3));
      return windowBase + (windowBase / 8) * (windowByte & 7);
    }
    // A single-segment frame's window is its content size, after the dictionary id.
    const dictIdBytes = [0, 1, 2, 4][descriptor & 3];
    const fcsBytes = [1, 2, 4, 8][descriptor >> 6];
    const at = 5 + dictIdBytes;
    if (bytesRead < at + fcsBytes) {
      throw new AppError('internal_error', `${path}: truncated zstd frame header`);
    }
    switch (fcsBytes) {
      case 1:
        return header[at];
      case 2:
        return header.readUInt16LE(at) + 256;
      case 4:
        return header.readUInt32LE(at);
      default:
        return Number(header.readBigUInt64LE(at));
    }
  } finally {
    await handle.close();
  }
}

function baseArgs(level: number): string[] {
  if (!Number.isInteger(level) || level < 1 || level > 22) {
    throw new AppError(
      'internal_error',
      `zstd level must be an integer from 1 to 22, got ${level}`,
    );
  }
  const ultra = level > 19 ? ['--ultra'] : [];
  return ['-q', '-f', '--no-progress', '--single-thread', ...ultra, `-${level}`];
}

/** Smallest log2 window covering `bytes`, or undefined when zstd's default window already does. */
function windowLogFor(bytes: number): number | undefined {
  const log = Math.ceil(Math.log2(Math.max(bytes, 1)));
  return log > DEFAULT_MAX_WINDOW_LOG ? Math.min(log, MAX_WINDOW_LOG) : undefined;
}

function longArgs(windowLog: number | undefined): string[] {
  return windowLog === undefined ? [] : [`--long=${windowLog}`];
}

/** Up to four equal slices spread evenly over the file (the whole file when it is small). */
async function readSample(path: string, sampleBytes: number): Promise<Buffer> {
  const { size } = await stat(path);
  if (size <= sampleBytes) return readFile(path);
  const slices = 4;
  const sliceBytes = Math.floor(sampleBytes / slices);
  const stride = Math.floor((size - sliceBytes) / (slices - 1));
  const sample = Buffer.alloc(sliceBytes * slices);
  const handle = await open(path, 'r');
  try {
    for (let i = 0; i < slices; i += 1) {
      await handle.read(sample, i * sliceBytes, sliceBytes, i * stride);
    }
  } finally {
    await handle.close();
  }
  return sample;
}
