import {
  KEEP_BELOW_BYTES,
  profileKey,
  renditionPlan,
  rung240,
  type DeviceProfile,
} from './profiles';

const tablet: DeviceProfile = {
  maxVideoHeight: 480,
  videoCodecs: ['h264', 'vp9'],
  imageFormats: ['jpeg', 'png', 'webp'],
};
const oldPc: DeviceProfile = {
  maxVideoHeight: 720,
  videoCodecs: ['h264'],
  imageFormats: ['png', 'jpeg'],
};
const big = 5 * 1024 * 1024;

describe('profileKey', () => {
  it('names only what changes renditions', () => {
    expect(profileKey(tablet)).toBe('v480.h264.webp');
    expect(profileKey(oldPc)).toBe('v720.h264.jpeg');
    expect(profileKey({ ...tablet, imageFormats: ['png', 'gif'] })).toBe('v480.h264.orig');
  });

  it('does not depend on list order or on formats renditions never use', () => {
    const reordered: DeviceProfile = {
      maxVideoHeight: 480,
      videoCodecs: ['av1', 'h264'],
      imageFormats: ['webp', 'gif', 'avif'],
    };
    expect(profileKey(reordered)).toBe(profileKey(tablet));
  });
});

describe('rung240', () => {
  it('is the same device asked for 240p video', () => {
    expect(rung240(tablet)).toEqual({ ...tablet, maxVideoHeight: 240 });
    expect(profileKey(rung240(oldPc))).toBe('v240.h264.jpeg');
    expect(tablet.maxVideoHeight).toBe(480);
  });
});

describe('renditionPlan', () => {
  it('renders video as H.264 MP4 at the profile height', () => {
    expect(renditionPlan({ mediaType: 'video/quicktime', size: big }, tablet)).toMatchObject({
      kind: 'video',
      height: 480,
      mediaType: 'video/mp4',
      key: 'video.h264.480',
    });
    expect(renditionPlan({ mediaType: 'video/webm', size: big }, rung240(tablet))).toMatchObject({
      kind: 'video',
      height: 240,
    });
  });

  it('renders audio as mono speech-rate AAC in M4A', () => {
    expect(renditionPlan({ mediaType: 'audio/wav', size: big }, tablet)).toMatchObject({
      kind: 'audio',
      mediaType: 'audio/mp4',
      extension: 'm4a',
    });
  });

  it('re-encodes JPEG and PNG as WebP q75 at most 1280 px, or JPEG when WebP is not taken', () => {
    expect(renditionPlan({ mediaType: 'image/png', size: big }, tablet)).toMatchObject({
      kind: 'image',
      format: 'webp',
      quality: 75,
      maxDimension: 1280,
      mediaType: 'image/webp',
    });
    expect(renditionPlan({ mediaType: 'image/jpeg', size: big }, oldPc)).toMatchObject({
      kind: 'image',
      format: 'jpeg',
      mediaType: 'image/jpeg',
    });
    const pngOnly = { ...tablet, imageFormats: ['png'] };
    expect(renditionPlan({ mediaType: 'image/jpeg', size: big }, pngOnly)).toEqual({
      kind: 'keep',
      reason: 'no_smaller_format',
    });
  });

  it.each([
    'application/pdf',
    'application/zip',
    'application/epub+zip',
    'image/svg+xml',
    'image/gif',
    'image/webp',
    'text/vtt',
    'application/x-subrip',
  ])('keeps %s as it is', (mediaType) => {
    expect(renditionPlan({ mediaType, size: big }, tablet)).toEqual({
      kind: 'keep',
      reason: 'not_renderable',
    });
  });

  it('keeps files under 64 KB, media included', () => {
    expect(renditionPlan({ mediaType: 'video/mp4', size: KEEP_BELOW_BYTES - 1 }, tablet)).toEqual({
      kind: 'keep',
      reason: 'small',
    });
    expect(renditionPlan({ mediaType: 'image/jpeg', size: KEEP_BELOW_BYTES }, tablet).kind).toBe(
      'image',
    );
  });

  it('ignores parameters and case in the media type', () => {
    expect(renditionPlan({ mediaType: 'Video/MP4; codecs="avc1"', size: big }, tablet).kind).toBe(
      'video',
    );
  });
});
