import { writeFile } from 'node:fs/promises';
import { probe, runFfmpeg } from './ffmpeg';
import { MediaError } from './media-error';
import { ffmpeg, TestMedia } from './test-media.fixture';

const TIMEOUT = { timeoutMs: 20_000 };

describe('probe and runFfmpeg', () => {
  let media: TestMedia;
  let slides: string;

  beforeAll(async () => {
    media = await TestMedia.create();
    slides = await media.slides('slides.mp4', 4);
  });
  afterAll(() => media.cleanup());

  it('describes duration, video and audio', async () => {
    const result = await probe(slides, TIMEOUT);
    expect(result.durationSeconds).toBeCloseTo(4, 0);
    expect(result.video).toEqual({ width: 1280, height: 720, codec: 'h264', fps: 25 });
    expect(result.audio).toEqual({ codec: 'aac', channels: 2, sampleRate: 44100 });
  });

  it('describes audio-only files without a video', async () => {
    const result = await probe(await media.speech('probe.wav', 2), TIMEOUT);
    expect(result.video).toBeUndefined();
    expect(result.audio).toMatchObject({ codec: 'pcm_s16le', channels: 2, sampleRate: 44100 });
  });

  it('does not take the cover picture of an audio file for a video', async () => {
    const cover = media.path('cover.png');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=s=300x300:d=1', '-frames:v', '1', cover]);
    const song = media.path('song.m4a');
    const wav = await media.speech('song.wav', 2);
    const withCover = ['-map', '0', '-map', '1', '-c:a', 'aac', '-c:v', 'png'];
    await ffmpeg(['-i', wav, '-i', cover, ...withCover, '-disposition:v', 'attached_pic', song]);
    const result = await probe(song, TIMEOUT);
    expect(result.video).toBeUndefined();
    expect(result.audio).toMatchObject({ codec: 'aac' });
  });

  it('rejects corrupt and truncated files as corrupt, with a reason that hides server paths', async () => {
    const corrupt = await media.corruptMp4();
    const truncated = await media.truncatedMp4(slides, 'cut.mp4', false);
    for (const path of [corrupt, truncated]) {
      const error = await probe(path, TIMEOUT).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MediaError);
      expect(error).toMatchObject({ kind: 'corrupt' });
      expect((error as MediaError).message).toMatch(/^unreadable media: .*moov atom not found/);
      expect((error as MediaError).message).not.toContain(media.dir);
    }
  });

  it('refuses a playlist disguised as a video (it would make ffmpeg read other files)', async () => {
    const playlist = media.path('playlist.mp4');
    const body = `#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n${slides}\n#EXT-X-ENDLIST\n`;
    await writeFile(playlist, body);
    await expect(probe(playlist, TIMEOUT)).rejects.toMatchObject({
      kind: 'corrupt',
      message: expect.stringMatching(/not on whitelist/),
    });
  });

  it('kills a hung ffmpeg at the time limit with a clear error', async () => {
    const started = Date.now();
    const endless = ['-re', '-f', 'lavfi', '-i', 'testsrc=s=64x64:r=25:d=3600', '-f', 'null', '-'];
    const error = await runFfmpeg(endless, { timeoutMs: 800 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaError);
    expect(error).toMatchObject({
      kind: 'timeout',
      message: expect.stringMatching(/timed out after/),
    });
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('fails with the last lines of stderr', async () => {
    const bad = ['-f', 'lavfi', '-i', 'nullsrc', '-vf', 'no_such_filter', '-f', 'null', '-'];
    const error = await runFfmpeg(bad, TIMEOUT).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'failed' });
    expect((error as MediaError).message).toMatch(/^ffmpeg exited with code \d+: .*no_such_filter/);
    expect((error as MediaError).stderrTail.length).toBeGreaterThan(0);
  });

  it('reports progress from out_time_us, increasing to 1', async () => {
    const fractions: number[] = [];
    const twoSeconds = [
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc=s=64x64:r=25:d=1.5',
      '-f',
      'null',
      '-',
    ];
    await runFfmpeg(twoSeconds, {
      ...TIMEOUT,
      durationSeconds: 1.5,
      onProgress: (f) => fractions.push(f),
    });
    expect(fractions.length).toBeGreaterThanOrEqual(3);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(fractions.at(-1)).toBe(1);
    expect(fractions[0]).toBeLessThan(1);
  });
});
