import { analyseStillness, isMostlyStatic } from './still-image';
import { TestMedia } from './test-media.fixture';

describe('isMostlyStatic', () => {
  let media: TestMedia;
  const opts = { timeoutMs: 30_000, sampleSeconds: 60 };

  beforeAll(async () => {
    media = await TestMedia.create();
  });
  afterAll(() => media.cleanup());

  it('recognises a slide lecture with a moving webcam inset', async () => {
    const stillness = await analyseStillness(await media.slides(), opts);
    expect(stillness.sampledFrames).toBeGreaterThan(30);
    expect(stillness.stillFrames / stillness.sampledFrames).toBeGreaterThan(0.9);
    expect(stillness.mostlyStatic).toBe(true);
  });

  it('says a moving camera is not static', async () => {
    const motion = await media.motion();
    const stillness = await analyseStillness(motion, opts);
    expect(stillness.stillFrames / stillness.sampledFrames).toBeLessThan(0.1);
    expect(await isMostlyStatic(motion, opts)).toBe(false);
  });

  it('samples windows spread over a long video, decoding at most sampleSeconds', async () => {
    const slides = media.path('slides.mp4');
    // 2 s of an 8 s video: 4 windows of 0.5 s at 5 fps.
    const stillness = await analyseStillness(slides, {
      ...opts,
      sampleSeconds: 2,
      durationSeconds: 8,
    });
    expect(stillness.sampledFrames).toBeGreaterThanOrEqual(8);
    expect(stillness.sampledFrames).toBeLessThanOrEqual(12);
    expect(stillness.mostlyStatic).toBe(true);
  });
});
