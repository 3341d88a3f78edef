/**
 * What a school's devices can play, and what each lesson file becomes for them. Pure: the worker
 * asks this before spending CPU, and the planner can ask it without touching a file.
 */
export const VIDEO_HEIGHTS = [240, 360, 480, 720] as const;
export type VideoHeight = (typeof VIDEO_HEIGHTS)[number];
export const VIDEO_CODECS = ['h264', 'hevc', 'vp9', 'av1'] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];
export const IMAGE_FORMATS = ['webp', 'jpeg', 'png', 'gif', 'avif'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/**
 * The codec and format lists are subsets of VIDEO_CODECS and IMAGE_FORMATS, typed as plain
 * strings because they come straight from the school's text[] columns (validated on the way in);
 * a value this module does not know is simply never chosen.
 */
export interface DeviceProfile {
  maxVideoHeight: VideoHeight;
  videoCodecs: string[];
  imageFormats: string[];
}

/** Below this, re-encoding saves at most a few KB per file: not worth a job. */
export const KEEP_BELOW_BYTES = 64 * 1024;
export const IMAGE_QUALITY = 75;
export const MAX_IMAGE_DIMENSION = 1280;
/** The smallest rung, for the worst links (ARCHITECTURE.md, delivery pipeline step 2). */
export const WORST_LINK_HEIGHT: VideoHeight = 240;

export type RenderedImageFormat = 'webp' | 'jpeg';

export type RenditionPlan =
  | { kind: 'video'; key: string; height: VideoHeight; mediaType: 'video/mp4'; extension: 'mp4' }
  | { kind: 'audio'; key: string; mediaType: 'audio/mp4'; extension: 'm4a' }
  | {
      kind: 'image';
      key: string;
      format: RenderedImageFormat;
      quality: number;
      maxDimension: number;
      mediaType: 'image/webp' | 'image/jpeg';
      extension: 'webp' | 'jpg';
    }
  | { kind: 'keep'; reason: 'small' | 'not_renderable' | 'no_smaller_format' };

/**
 * The image format renditions use for this device, or null when only the source's own format
 * will do. PNG never wins: re-encoding a JPEG or PNG photo as PNG only grows it.
 */
export function renderedImageFormat(profile: DeviceProfile): RenderedImageFormat | null {
  if (profile.imageFormats.includes('webp')) return 'webp';
  if (profile.imageFormats.includes('jpeg')) return 'jpeg';
  return null;
}

/**
 * A short, stable key of only what changes renditions (e.g. `v480.h264.webp`), so that schools
 * whose profiles differ in irrelevant ways (list order, gif/avif support) share one cache entry.
 * Video is always H.264: every device in the field decodes it, and one codec keeps the cache small.
 */
export function profileKey(profile: DeviceProfile): string {
  return `v${profile.maxVideoHeight}.h264.${renderedImageFormat(profile) ?? 'orig'}`;
}

/** The extra rung for the worst links: the same device, asked for 240p video. */
export function rung240(profile: DeviceProfile): DeviceProfile {
  return { ...profile, maxVideoHeight: WORST_LINK_HEIGHT };
}

function bareType(mediaType: string): string {
  return mediaType.split(';')[0].trim().toLowerCase();
}

/**
 * What to do with one file for one profile. `key` names the output recipe, which several
 * profiles may share (an image's rendition does not depend on the video height).
 */
export function renditionPlan(
  source: { mediaType: string; size: number },
  profile: DeviceProfile,
): RenditionPlan {
  const type = bareType(source.mediaType);
  const renderable =
    type.startsWith('video/') ||
    type.startsWith('audio/') ||
    type === 'image/jpeg' ||
    type === 'image/png';
  // GIF (often animated), SVG, WebP, PDF, EPUB, ZIP/H5P packages and captions go as they are.
  if (!renderable) return { kind: 'keep', reason: 'not_renderable' };
  if (source.size < KEEP_BELOW_BYTES) return { kind: 'keep', reason: 'small' };

  if (type.startsWith('video/')) {
    const height = profile.maxVideoHeight;
    return {
      kind: 'video',
      key: `video.h264.${height}`,
      height,
      mediaType: 'video/mp4',
      extension: 'mp4',
    };
  }
  if (type.startsWith('audio/')) {
    return { kind: 'audio', key: 'audio.aac48', mediaType: 'audio/mp4', extension: 'm4a' };
  }
  const format = renderedImageFormat(profile);
  if (!format) return { kind: 'keep', reason: 'no_smaller_format' };
  return {
    kind: 'image',
    key: `image.${format}.q${IMAGE_QUALITY}.${MAX_IMAGE_DIMENSION}`,
    format,
    quality: IMAGE_QUALITY,
    maxDimension: MAX_IMAGE_DIMENSION,
    mediaType: format === 'webp' ? 'image/webp' : 'image/jpeg',
    extension: format === 'webp' ? 'webp' : 'jpg',
  };
}
