/**
 * Real media for the media specs, generated with ffmpeg's lavfi and sharp: small and quick to
 * make, but encoded loosely (x264 ultrafast, CRF 18) so renditions have something to save.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';

const exec = promisify(execFile);

export async function ffmpeg(args: string[]): Promise<void> {
  await exec('ffmpeg', ['-nostdin', '-hide_banner', '-v', 'error', '-y', ...args]);
}

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  channels?: number;
  sample_rate?: string;
  bit_rate?: string;
}

export async function ffprobeStreams(path: string): Promise<ProbedStream[]> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-of', 'json', '-show_streams', path]);
  return (JSON.parse(stdout) as { streams: ProbedStream[] }).streams;
}

const SPEECH =
  'sine=f=220:r=44100,aformat=channel_layouts=stereo[tone];anoisesrc=r=44100:a=0.05:c=pink,aformat=channel_layouts=stereo[noise];[tone][noise]amix=inputs=2';
const LOOSE_H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', '-pix_fmt', 'yuv420p'];
const LOOSE_AAC = ['-c:a', 'aac', '-b:a', '128k'];

export class TestMedia {
  private constructor(readonly dir: string) {}

  static async create(): Promise<TestMedia> {
    return new TestMedia(await mkdtemp(join(tmpdir(), 'classcast-media-')));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /** A slide lecture: a new slide every 3 s, a small moving inset (a webcam), speech audio. */
  async slides(name = 'slides.mp4', seconds = 8): Promise<string> {
    const count = Math.ceil(seconds / 3);
    const designs = ['smptehdbars', 'rgbtestsrc', 'yuvtestsrc'];
    const slides = Array.from(
      { length: count },
      (_, i) => `${designs[i % designs.length]}=s=1280x720:r=25:d=3[s${i}]`,
    );
    const deck = `${Array.from({ length: count }, (_, i) => `[s${i}]`).join('')}concat=n=${count}`;
    const video =
      `${slides.join(';')};${deck},format=yuv420p[deck];testsrc2=s=160x90:r=25[inset];` +
      "[deck][inset]overlay=x='mod(t*100,1100)':y=600:shortest=1";
    await ffmpeg([
      ...['-f', 'lavfi', '-i', video, '-f', 'lavfi', '-i', SPEECH],
      ...['-t', String(seconds), ...LOOSE_H264, ...LOOSE_AAC, this.path(name)],
    ]);
    return this.path(name);
  }

  /** A camera pan over a detailed scene: every part of the picture moves. */
  async motion(name = 'motion.mp4', seconds = 6): Promise<string> {
    const video = "mandelbrot=s=1600x900:r=25,crop=1280:720:x='t*30':y='t*15'";
    await ffmpeg([
      ...['-f', 'lavfi', '-i', video, '-f', 'lavfi', '-i', SPEECH],
      ...['-t', String(seconds), ...LOOSE_H264, ...LOOSE_AAC, this.path(name)],
    ]);
    return this.path(name);
  }

  /** Small video for fast checks (never-upscale, determinism). */
  async smallVideo(name: string, height: number, seconds = 3): Promise<string> {
    await ffmpeg([
      ...[
        '-f',
        'lavfi',
        '-i',
        `testsrc2=s=${Math.round((height * 16) / 9 / 2) * 2}x${height}:r=25`,
      ],
      ...['-f', 'lavfi', '-i', SPEECH],
      ...['-t', String(seconds), ...LOOSE_H264, ...LOOSE_AAC, this.path(name)],
    ]);
    return this.path(name);
  }

  /** Speech-like stereo audio at 44.1 kHz in uncompressed WAV, as a field recorder makes it. */
  async speech(name = 'speech.wav', seconds = 6): Promise<string> {
    await ffmpeg(['-f', 'lavfi', '-i', SPEECH, '-t', String(seconds), this.path(name)]);
    return this.path(name);
  }

  /** A 3000x2000 photo-like JPEG, stored sideways with EXIF orientation 6 (rotate 90°). */
  async photo(name = 'photo.jpg'): Promise<string> {
    const noise = { type: 'gaussian' as const, mean: 128, sigma: 40 };
    const grain = await sharp({
      create: { width: 750, height: 500, channels: 3, noise, background: '#808080' },
    })
      .png()
      .toBuffer();
    await sharp(grain)
      .resize(3000, 2000, { kernel: 'cubic' })
      .jpeg({ quality: 92 })
      .withMetadata({ orientation: 6 })
      .toFile(this.path(name));
    return this.path(name);
  }

  /** A valid-looking ftyp box followed by random bytes. */
  async corruptMp4(name = 'corrupt.mp4'): Promise<string> {
    const ftyp = Buffer.from('0000001c667479706d703432000000006d7034326973736f6d703431', 'hex');
    await writeFile(this.path(name), Buffer.concat([ftyp, randomBytes(200_000)]));
    return this.path(name);
  }

  /** The first 60 % of a real MP4. `faststart` keeps the index, so only the media is missing. */
  async truncatedMp4(source: string, name: string, faststart: boolean): Promise<string> {
    const whole = this.path(`whole-${name}`);
    const flags = faststart ? ['-movflags', '+faststart'] : [];
    await ffmpeg(['-i', source, '-c', 'copy', ...flags, whole]);
    const bytes = await readFile(whole);
    await writeFile(this.path(name), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    return this.path(name);
  }
}

export async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Top-level MP4 box types in file order: faststart means `moov` comes before `mdat`. */
export async function topLevelBoxes(path: string): Promise<string[]> {
  const bytes = await readFile(path);
  const boxes: string[] = [];
  for (let offset = 0; offset + 8 <= bytes.length;) {
    let size = bytes.readUInt32BE(offset);
    boxes.push(bytes.toString('latin1', offset + 4, offset + 8));
    if (size === 1) size = Number(bytes.readBigUInt64BE(offset + 8));
    if (size < 8) break;
    offset += size;
  }
  return boxes;
}
