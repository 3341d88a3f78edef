import { readdir, readFile, writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { MediaError } from './media-error';
import { renderAudio, renderImage, renderVideo } from './render';
import { ffprobeStreams, sizeOf, TestMedia, topLevelBoxes } from './test-media.fixture';

const video = { stillImage: false, timeoutMs: 60_000 };
const image = { format: 'webp' as const, quality: 75, maxDimension: 1280 };

describe('render', () => {
  let media: TestMedia;
  let slides: string;

  beforeAll(async () => {
    media = await TestMedia.create();
    slides = await media.slides();
  });
  afterAll(() => media.cleanup());

  /** Only finished outputs, never a temporary `.part`, may be left in the directory. */
  async function leftovers(): Promise<string[]> {
    return (await readdir(media.dir)).filter((name) => name.endsWith('.part'));
  }

  it('renders H.264 + mono 48 kbit/s AAC at the target height, faststart, smaller', async () => {
    const out = media.path('slides-480.mp4');
    const fractions: number[] = [];
    await renderVideo(slides, out, {
      ...video,
      height: 480,
      stillImage: true,
      onProgress: (f) => fractions.push(f),
    });
    const [v, a] = await ffprobeStreams(out);
    expect(v).toMatchObject({ codec_type: 'video', codec_name: 'h264', width: 854, height: 480 });
    expect(a).toMatchObject({ codec_type: 'audio', codec_name: 'aac', channels: 1 });
    expect(Number(a.bit_rate)).toBeGreaterThan(40_000);
    expect(Number(a.bit_rate)).toBeLessThan(56_000);
    const boxes = await topLevelBoxes(out);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
    expect(await sizeOf(out)).toBeLessThan((await sizeOf(slides)) / 2);
    expect(fractions).toEqual([...fractions].sort((x, y) => x - y));
    expect(fractions.at(-1)).toBe(1);
    expect(await leftovers()).toEqual([]);
  });

  it('renders the 240p rung of moving video within its bit-rate cap', async () => {
    const motion = await media.motion();
    const out = media.path('motion-240.mp4');
    await renderVideo(motion, out, { ...video, height: 240 });
    const [v] = await ffprobeStreams(out);
    expect(v).toMatchObject({ codec_name: 'h264', width: 426, height: 240 });
    // 100 kbit/s video + 48 kbit/s audio over 6 s, with room for the VBV buffer.
    expect(await sizeOf(out)).toBeLessThan(((6 * 150_000) / 8) * 1.3);
  });

  it('never upscales', async () => {
    const small = await media.smallVideo('small-360.mp4', 360);
    const out = media.path('small-720.mp4');
    await renderVideo(small, out, { ...video, height: 720 });
    expect((await ffprobeStreams(out))[0]).toMatchObject({ width: 640, height: 360 });
  });

  it('gives the same bytes for the same input, also busy video where the bit-rate cap engages', async () => {
    const busy = await media.motion('busy.mp4', 4);
    const first = media.path('same-1.mp4');
    const second = media.path('same-2.mp4');
    await renderVideo(busy, first, { ...video, height: 240 });
    await renderVideo(busy, second, { ...video, height: 240 });
    expect((await readFile(first)).equals(await readFile(second))).toBe(true);
  });

  it('kills the encoder at the time limit and leaves no file behind', async () => {
    const out = media.path('too-slow.mp4');
    const error = await renderVideo(slides, out, { ...video, height: 480, timeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MediaError);
    expect(error).toMatchObject({
      kind: 'timeout',
      message: expect.stringMatching(/timed out after/),
    });
    expect(await readdir(media.dir)).not.toContain('too-slow.mp4');
    expect(await leftovers()).toEqual([]);
  });

  it('renders speech as mono AAC at 48 kbit/s in an M4A, smaller', async () => {
    const wav = await media.speech();
    const out = media.path('speech.m4a');
    await renderAudio(wav, out, { timeoutMs: 30_000 });
    const streams = await ffprobeStreams(out);
    expect(streams).toHaveLength(1);
    expect(streams[0]).toMatchObject({ codec_name: 'aac', channels: 1, sample_rate: '44100' });
    expect(await sizeOf(out)).toBeLessThan((await sizeOf(wav)) / 10);
  });

  it('renders a photo upright as WebP within 1280 px, without metadata, smaller', async () => {
    const photo = await media.photo();
    const out = media.path('photo.webp');
    await renderImage(photo, out, image);
    const meta = await sharp(out).metadata();
    // Stored 3000x2000 with "rotate 90°": upright it is 2000x3000, so 853x1280.
    expect(meta).toMatchObject({ format: 'webp', width: 853, height: 1280 });
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    expect(await sizeOf(out)).toBeLessThan((await sizeOf(photo)) / 4);
  });

  it('renders JPEG on a white background when the device takes no WebP', async () => {
    const transparent = media.path('logo.png');
    await sharp({ create: { width: 2000, height: 500, channels: 4, background: '#ff000000' } })
      .png()
      .toFile(transparent);
    const out = media.path('logo.jpg');
    await renderImage(transparent, out, { ...image, format: 'jpeg' });
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 1280, height: 320, channels: 3 });
    expect([...data.subarray(0, 3)].every((c) => c > 250)).toBe(true);
  });

  it('reports a damaged image as corrupt and leaves no file behind', async () => {
    const broken = media.path('broken.jpg');
    const photo = await readFile(await media.photo('whole.jpg'));
    await writeFile(broken, photo.subarray(0, 2000));
    const out = media.path('broken.webp');
    await expect(renderImage(broken, out, image)).rejects.toMatchObject({ kind: 'corrupt' });
    expect(await readdir(media.dir)).not.toContain('broken.webp');
    expect(await leftovers()).toEqual([]);
  });
});
