/**
 * Media for the sample term, made with ffmpeg and sharp (no font files needed by ffmpeg: slides are
 * SVG rendered by sharp), and the video anchor: ricecooker's default compression, and SSIM.
 */
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { ffmpeg, run } from './term-process';
import { seeded, sentence, word } from './term-text';

export const FPS = 25;
export const SLIDE_SECONDS = 10;
const SLIDE_WIDTH = 1280;
const SLIDE_HEIGHT = 720;

/** Spots of the Mandelbrot set with detail at every scale: stand-ins for photos. */
const VIEWS = [
  { x: -0.743643887037159, y: 0.131825904205312, scale: 0.005 },
  { x: -0.7435669, y: 0.1314023, scale: 0.02 },
  { x: -0.1011, y: 0.9563, scale: 0.03 },
  { x: -1.25066, y: 0.02012, scale: 0.02 },
  { x: -0.748, y: 0.1, scale: 0.015 },
  { x: 0.001643721971153, y: -0.822467633298876, scale: 0.02 },
  { x: -1.768778833, y: -0.001738996, scale: 0.004 },
  { x: 0.2549870375144766, y: -0.0005679790528465, scale: 0.0008 },
];

const mandelbrot = (index: number, width: number, height: number): string => {
  const v = VIEWS[index % VIEWS.length];
  // Past the list, the same spots zoomed out: every photo differs from every other.
  const scale = v.scale * (1 + 0.37 * Math.floor(index / VIEWS.length));
  return (
    `mandelbrot=s=${width}x${height}:maxiter=400:start_x=${v.x}:start_y=${v.y}:` +
    `start_scale=${scale}`
  );
};

/** A rectangle drawn on a photo: the edit a teacher makes to point something out. */
export interface PhotoMark {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * A camera-like JPEG (detail, mild sensor noise; ffmpeg quality 2 as cameras save, 5 for
 * illustrations placed in documents) or a lossless PNG of the same.
 */
export async function photo(
  path: string,
  view: number,
  width: number,
  height: number,
  mark?: PhotoMark,
  jpegQuality = 2,
): Promise<void> {
  const box = mark
    ? `,drawbox=x=${mark.x}:y=${mark.y}:w=${mark.w}:h=${mark.h}:color=red@1:t=14`
    : '';
  const jpeg = path.endsWith('.jpg');
  const noise = jpeg ? ',noise=alls=4:allf=u' : '';
  await ffmpeg([
    ...['-f', 'lavfi', '-i', `${mandelbrot(view, width, height)}${noise}${box}`],
    ...['-frames:v', '1'],
    ...(jpeg ? ['-pix_fmt', 'yuvj420p', '-q:v', String(jpegQuality)] : ['-pix_fmt', 'rgb24']),
    path,
  ]);
}

/** A slide as an instructor exports it: title bar, bullets, a chart or a picture. */
function slideSvg(lecture: number, slide: number, width: number, height: number): string {
  const rng = seeded(lecture * 1009 + slide * 7919 + 1);
  const k = width / SLIDE_WIDTH;
  const hue = (lecture * 67 + slide * 13) % 360;
  const accent = `hsl(${hue},45%,35%)`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`,
    `<rect width="100%" height="100%" fill="#fdfdf8"/>`,
    `<rect width="100%" height="${110 * k}" fill="${accent}"/>`,
    `<text x="${60 * k}" y="${75 * k}" font-family="DejaVu Sans, sans-serif" font-size="${46 * k}" ` +
      `fill="#fff">${lecture}.${slide + 1} ${word(rng)} and ${word(rng)}</text>`,
  ];
  for (let line = 0; line < 7; line += 1) {
    const y = (190 + line * 68) * k;
    parts.push(
      `<circle cx="${80 * k}" cy="${y - 12 * k}" r="${8 * k}" fill="${accent}"/>`,
      `<text x="${105 * k}" y="${y}" font-family="DejaVu Sans, sans-serif" ` +
        `font-size="${32 * k}" fill="#222">${sentence(rng, 4, 8)}</text>`,
    );
  }
  if (slide % 2 === 0) {
    for (let bar = 0; bar < 6; bar += 1) {
      const h = (40 + rng() * 220) * k;
      parts.push(
        `<rect x="${(880 + bar * 55) * k}" y="${640 * k - h}" width="${40 * k}" height="${h}" ` +
          `fill="hsl(${(hue + bar * 40) % 360},60%,50%)"/>`,
      );
    }
    parts.push(
      `<line x1="${870 * k}" y1="${640 * k}" x2="${1220 * k}" y2="${640 * k}" stroke="#333" ` +
        `stroke-width="${3 * k}"/>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}

/** Renders a slide to PNG; odd slides get a picture (a crop of `picture`) on the right. */
export async function slidePng(
  path: string,
  lecture: number,
  slide: number,
  picture: string,
  width = SLIDE_WIDTH,
  height = SLIDE_HEIGHT,
): Promise<void> {
  let image = sharp(Buffer.from(slideSvg(lecture, slide, width, height)));
  if (slide % 2 === 1) {
    const k = width / SLIDE_WIDTH;
    const crop = await sharp(picture)
      .extract({ left: (slide * 97) % 1200, top: (lecture * 61) % 700, width: 480, height: 340 })
      .resize(Math.round(400 * k), Math.round(283 * k))
      .toBuffer();
    image = sharp(await image.png().toBuffer()).composite([
      { input: crop, left: Math.round(830 * k), top: Math.round(200 * k) },
    ]);
  }
  await image.png().toFile(path);
}

/** Speech-like audio: a gliding tone with syllable-rate amplitude changes and a little hiss. */
const voice = (channel: number, base: number): string =>
  `0.25*sin(2*PI*(${base + channel}+40*sin(2*PI*0.7*t))*t)*(0.6+0.4*sin(2*PI*4*t))` +
  `+0.02*(random(${channel})-0.5)`;
const speech = (base: number) => `aevalsrc=${voice(0, base)}|${voice(1, base)}:s=48000`;

/**
 * What a phone or screen recorder uploads: 720p H.264 around 3 Mbit/s with a 1 s GOP (superfast
 * stands in for a hardware encoder), AAC 128k stereo. Deterministic, so re-making a lecture with
 * one slide changed gives the same bytes up to that slide: plain ABR, since x264's VBV
 * (maxrate/bufsize) with two frame threads gave different bytes run to run here.
 */
const UPLOAD_ENCODE = [
  ...['-c:v', 'libx264', '-preset', 'superfast', '-threads', '2', '-g', String(FPS)],
  ...['-c:a', 'aac', '-b:a', '128k', '-ac', '2'],
  ...['-movflags', '+faststart', '-fflags', '+bitexact', '-map_metadata', '-1'],
];

/**
 * A slide lecture: one slide every SLIDE_SECONDS, a webcam inset (a moving pattern with sensor
 * noise, 320x240) in the corner, speech on the sound track.
 */
export async function slideLecture(
  path: string,
  slides: string[],
  durationSeconds: number,
  workDir: string,
): Promise<void> {
  const list = join(workDir, `${basename(path)}.ffconcat`);
  const entries = slides.map((s) => `file '${s}'\nduration ${SLIDE_SECONDS}\n`);
  // The concat demuxer needs the last file twice for the last duration to count.
  await writeFile(list, `ffconcat version 1.0\n${entries.join('')}file '${slides.at(-1)}'\n`);
  await ffmpeg([
    ...['-f', 'concat', '-safe', '0', '-i', list],
    ...['-f', 'lavfi', '-i', `testsrc2=s=320x240:r=${FPS},noise=alls=10:allf=t`],
    ...['-f', 'lavfi', '-i', speech(180)],
    '-filter_complex',
    `[0:v]fps=${FPS},format=yuv420p[bg];[bg][1:v]overlay=x=W-w-24:y=H-h-24:shortest=1,format=yuv420p[v]`,
    ...['-map', '[v]', '-map', '2:a', '-t', String(durationSeconds)],
    ...['-b:v', '3000k', ...UPLOAD_ENCODE],
    path,
  ]);
}

/** A field-trip clip: a slow camera pan over a detailed scene, with sensor noise; about 4 Mbit/s. */
export async function movingVideo(
  path: string,
  scene: string,
  durationSeconds: number,
): Promise<void> {
  await ffmpeg([
    ...['-i', scene, '-f', 'lavfi', '-i', speech(220)],
    '-filter_complex',
    `[0:v]format=yuv420p,loop=loop=-1:size=1,setpts=N/${FPS}/TB,` +
      `crop=1280:720:x='(iw-ow)/2*(1+sin(t/6))':y='(ih-oh)/2*(1+sin(t/9))',` +
      `noise=alls=6:allf=t[v]`,
    ...['-map', '[v]', '-map', '1:a', '-t', String(durationSeconds), '-r', String(FPS)],
    ...['-b:v', '4000k', ...UPLOAD_ENCODE],
    path,
  ]);
}

/** The still the moving video pans over, and slide pictures are cut from. */
export async function scene(path: string): Promise<void> {
  await ffmpeg([
    ...['-f', 'lavfi', '-i', mandelbrot(1, 2560, 1440)],
    ...['-frames:v', '1', '-pix_fmt', 'rgb24', path],
  ]);
}

/**
 * ricecooker's compress_video defaults for MP4 (ricecooker/utils/videos.py): max height 480,
 * CRF 32, preset slow, baseline profile level 3.0, AAC 32k mono, faststart. `crf` overrides 32,
 * as its `crf` keyword does.
 */
export async function ricecookerCompress(input: string, output: string, crf = 32): Promise<void> {
  await ffmpeg([
    ...['-i', input, '-vf', "scale='w=-2:h=trunc(min(ih,480)/2)*2'", '-pix_fmt', 'yuv420p'],
    ...['-map', '0:v:0', '-map', '0:a:0', '-b:a', '32k', '-ac', '1', '-crf', String(crf)],
    ...['-strict', '-2', '-profile:v', 'baseline', '-level', '3.0', '-preset', 'slow'],
    ...['-movflags', 'faststart', output],
  ]);
}

export interface VideoInfo {
  width: number;
  height: number;
  durationSeconds: number;
  bitRate: number;
}

export async function probeVideo(path: string): Promise<VideoInfo> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0'],
    ...['-show_entries', 'stream=width,height:format=duration,bit_rate', '-of', 'json', path],
  ]);
  const info = JSON.parse(stdout) as {
    streams: { width: number; height: number }[];
    format: { duration: string; bit_rate: string };
  };
  return {
    width: info.streams[0].width,
    height: info.streams[0].height,
    durationSeconds: Number(info.format.duration),
    bitRate: Number(info.format.bit_rate),
  };
}

/** Bytes of the first video and audio streams' packets: SSIM judges only the picture. */
export async function streamBytes(path: string): Promise<{ video: number; audio: number }> {
  const packets = async (stream: string) => {
    const { stdout } = await run('ffprobe', [
      ...['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=size'],
      ...['-of', 'csv=p=0', path],
    ]);
    return stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .reduce((n, line) => n + Number(line.split(',')[0]), 0);
  };
  return { video: await packets('v:0'), audio: await packets('a:0') };
}

export interface Ssim {
  /** ffmpeg's SSIM "All" (Y, U, V weighted by plane size), mean over frames. */
  all: number;
  y: number;
}

/**
 * Mean SSIM of each rendition against the source, all scaled to the first rendition's size
 * (bicubic), in one decode of the source.
 */
export async function ssimAgainst(source: string, renditions: string[]): Promise<Ssim[]> {
  const { width, height } = await probeVideo(renditions[0]);
  const size = `${width}:${height}`;
  const refs = renditions.map((_, i) => `[r${i}]`).join('');
  const graph = [
    `[0:v]scale=${size}:flags=bicubic,format=yuv420p,split=${renditions.length}${refs}`,
    ...renditions.map(
      (_, i) =>
        `[${i + 1}:v]scale=${size}:flags=bicubic,format=yuv420p[d${i}];[d${i}][r${i}]ssim@m${i}[o${i}]`,
    ),
  ].join(';');
  const { stderr } = await run('ffmpeg', [
    ...['-hide_banner', '-nostdin', '-nostats', '-v', 'info', '-i', source],
    ...renditions.flatMap((r) => ['-i', r]),
    ...['-filter_complex', graph],
    ...renditions.flatMap((_, i) => ['-map', `[o${i}]`, '-f', 'null', '-']),
  ]);
  return renditions.map((_, i) => {
    const match = new RegExp(`\\[ssim@m${i} @[^\\]]*\\] SSIM Y:([\\d.]+).* All:([\\d.]+)`).exec(
      stderr,
    );
    if (!match) throw new Error(`no SSIM for ${renditions[i]} in ffmpeg output`);
    return { y: Number(match[1]), all: Number(match[2]) };
  });
}
