import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { ffmpeg, ffprobeStreams, sizeOf, TestMedia } from './test-media.fixture';
import { renderFor, sha256File, type DeviceProfile, type RenditionSource } from './renditions';

const tablet: DeviceProfile = {
  maxVideoHeight: 360,
  videoCodecs: ['h264'],
  imageFormats: ['jpeg', 'webp'],
};
const opts = { timeoutMs: 60_000 };

describe('renderFor', () => {
  let media: TestMedia;
  let slides: string;

  beforeAll(async () => {
    media = await TestMedia.create();
    slides = await media.slides('lecture.mp4', 6);
  });
  afterAll(() => media.cleanup());

  async function source(path: string, mediaType: string): Promise<RenditionSource> {
    return { path, mediaType, size: await sizeOf(path) };
  }

  function workDir(): Promise<string> {
    return mkdtemp(join(media.dir, 'work-'));
  }

  it('renders a lecture video and describes the result by its bytes', async () => {
    const work = await workDir();
    const fractions: number[] = [];
    const lecture = await source(slides, 'video/mp4');
    const result = await renderFor(lecture, tablet, work, {
      ...opts,
      onProgress: (f) => fractions.push(f),
    });
    if (result.state !== 'ready') throw new Error(`not ready: ${JSON.stringify(result)}`);
    expect(result.mediaType).toBe('video/mp4');
    expect(result.path.startsWith(work)).toBe(true);
    expect(result.size).toBe(await sizeOf(result.path));
    expect(result.size).toBeLessThan(lecture.size);
    expect(result.sha256).toBe(await sha256File(result.path));
    expect((await ffprobeStreams(result.path))[0]).toMatchObject({ height: 360 });
    expect(fractions.length).toBeGreaterThan(1);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(fractions.at(-1)).toBe(1);
  });

  it('renders audio declared as video/mp4 as the audio it is', async () => {
    const m4a = media.path('voice.mp4');
    await ffmpeg(['-i', await media.speech('voice.wav'), '-c:a', 'aac', '-b:a', '160k', m4a]);
    const result = await renderFor(await source(m4a, 'video/mp4'), tablet, await workDir(), opts);
    expect(result).toMatchObject({ state: 'ready', mediaType: 'audio/mp4' });
  });

  it('renders a photo as WebP', async () => {
    const photo = await source(await media.photo(), 'image/jpeg');
    const result = await renderFor(photo, tablet, await workDir(), opts);
    expect(result).toMatchObject({ state: 'ready', mediaType: 'image/webp' });
  });

  it('keeps documents and small files as they are, without touching them', async () => {
    const work = await workDir();
    const pdf = { path: media.path('none.pdf'), mediaType: 'application/pdf', size: 5_000_000 };
    const tiny = { path: media.path('none.png'), mediaType: 'image/png', size: 10_000 };
    expect(await renderFor(pdf, tablet, work, opts)).toEqual({
      state: 'skipped',
      reason: 'kept_as_is',
    });
    expect(await renderFor(tiny, tablet, work, opts)).toEqual({
      state: 'skipped',
      reason: 'kept_as_is',
    });
    expect(await readdir(work)).toEqual([]);
  });

  it('skips a rendition that is not smaller than its source, and deletes it', async () => {
    const grainy = media.path('grainy.jpg');
    const noise = { type: 'gaussian' as const, mean: 128, sigma: 60 };
    await sharp({
      create: { width: 1200, height: 1000, channels: 3, noise, background: '#808080' },
    })
      .jpeg({ quality: 10 })
      .toFile(grainy);
    const work = await workDir();
    const result = await renderFor(await source(grainy, 'image/jpeg'), tablet, work, opts);
    expect(result).toEqual({ state: 'skipped', reason: 'not_smaller' });
    expect(await readdir(work)).toEqual([]);
  });

  it.each([
    ['corrupt', () => media.corruptMp4(), /^unreadable media: .*moov atom not found/],
    [
      'truncated without an index',
      () => media.truncatedMp4(slides, 'cut-index.mp4', false),
      /^unreadable media: .*moov atom not found/,
    ],
    [
      'truncated after its index',
      () => media.truncatedMp4(slides, 'cut-media.mp4', true),
      /^truncated or damaged media: only [\d.]+ s of 6\.0 s could be decoded$/,
    ],
  ])('marks a %s video failed with the reason, leaving nothing', async (_, make, reason) => {
    const work = await workDir();
    const path = await make();
    const result = await renderFor(await source(path, 'video/mp4'), tablet, work, opts);
    expect(result).toEqual({ state: 'failed', reason: expect.stringMatching(reason) });
    expect(JSON.stringify(result)).not.toContain(media.dir);
    expect(await readdir(work)).toEqual([]);
  });

  it('marks a damaged image failed', async () => {
    const broken = media.path('broken.png');
    await writeFile(
      broken,
      Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(70_000, 7)]),
    );
    const result = await renderFor(
      await source(broken, 'image/png'),
      tablet,
      await workDir(),
      opts,
    );
    expect(result).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/^unreadable image: /),
    });
  });

  it('marks a file failed when it overruns its time budget, leaving nothing', async () => {
    const work = await workDir();
    const lecture = await source(slides, 'video/mp4');
    const result = await renderFor(lecture, tablet, work, { timeoutMs: 400 });
    expect(result).toEqual({ state: 'failed', reason: 'timed out after 0.4 s' });
    expect(await readdir(work)).toEqual([]);
  });

  it('throws for a source that is not there: that is the caller’s bug, not bad media', async () => {
    const missing = { path: media.path('missing.mp4'), mediaType: 'video/mp4', size: 1_000_000 };
    await expect(renderFor(missing, tablet, await workDir(), opts)).rejects.toThrow(
      /No such file or directory/,
    );
  });
});
