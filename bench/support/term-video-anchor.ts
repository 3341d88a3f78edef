/**
 * Our video renditions against ricecooker's default compression (the Kolibri content pipeline):
 * bytes, and SSIM of each against the source. When one side is bigger and better, the bytes alone
 * say little, so ricecooker's pipeline is also run at other CRFs to find what it needs for our SSIM.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ProducedFile } from './term-bundle';
import { probeVideo, ricecookerCompress, ssimAgainst, streamBytes, type Ssim } from './term-media';

/** SSIM differences below this are invisible; "same or better" allows them. */
export const SSIM_TOLERANCE = 0.001;
const RICECOOKER_CRF = 32;

export interface IsoSsim {
  /** Points of ricecooker's pipeline, CRF 32 first; videoBytes = the video stream alone. */
  points: { crf: number; bytes: number; videoBytes: number; ssim: number }[];
  /** Interpolated video-stream bytes ricecooker needs for our SSIM; null when not bracketed. */
  videoBytesAtOurSsim: number | null;
  /** Our video-stream bytes over that: below 1, our picture is smaller at equal quality. */
  oursOverRicecookerVideo: number | null;
}

export interface VideoComparison {
  path: string;
  kind: string;
  sourceBytes: number;
  sourceKbps: number;
  durationSeconds: number;
  oursBytes: number;
  ricecookerBytes: number;
  /** ours / ricecooker, whole files */
  bytesRatio: number;
  /** Packet bytes of the streams: ours keeps 48 kbit/s speech audio, ricecooker 32. */
  oursStreams: { video: number; audio: number };
  ricecookerStreams: { video: number; audio: number };
  /** ours / ricecooker, video streams only: what SSIM judges */
  videoBytesRatio: number;
  oursSsim: Ssim;
  ricecookerSsim: Ssim;
  ssimPass: boolean;
  ricecookerSeconds: number;
  isoSsim?: IsoSsim;
}

const sizeOf = async (path: string) => (await stat(path)).size;

/**
 * log(bytes) is close to linear in SSIM over a few CRF steps: interpolate between the two points
 * around `ssim`.
 */
function interpolate(points: { videoBytes: number; ssim: number }[], ssim: number): number | null {
  const sorted = [...points].sort((a, b) => a.ssim - b.ssim);
  for (let i = 1; i < sorted.length; i += 1) {
    const [lo, hi] = [sorted[i - 1], sorted[i]];
    if (ssim >= lo.ssim && ssim <= hi.ssim && hi.ssim > lo.ssim) {
      const t = (ssim - lo.ssim) / (hi.ssim - lo.ssim);
      const [a, b] = [Math.log(lo.videoBytes), Math.log(hi.videoBytes)];
      return Math.exp(a + t * (b - a));
    }
  }
  return null;
}

async function isoSsim(
  source: string,
  dir: string,
  name: string,
  first: { bytes: number; videoBytes: number; ssim: number },
  ourSsim: number,
  oursVideoBytes: number,
): Promise<IsoSsim> {
  const points = [{ crf: RICECOOKER_CRF, ...first }];
  // Three CRF steps change bytes by about 30-40 %: two of them bracket any realistic gap.
  const step = ourSsim > first.ssim ? -3 : 3;
  for (const crf of [RICECOOKER_CRF + step, RICECOOKER_CRF + 2 * step]) {
    const out = join(dir, `${name}.ricecooker-crf${crf}.mp4`);
    await ricecookerCompress(source, out, crf);
    const [ssim] = await ssimAgainst(source, [out]);
    const { video } = await streamBytes(out);
    points.push({ crf, bytes: await sizeOf(out), videoBytes: video, ssim: ssim.all });
    if (step < 0 ? ssim.all >= ourSsim : ssim.all <= ourSsim) break;
  }
  const videoBytes = interpolate(points, ourSsim);
  return {
    points,
    videoBytesAtOurSsim: videoBytes === null ? null : Math.round(videoBytes),
    oursOverRicecookerVideo: videoBytes === null ? null : oursVideoBytes / videoBytes,
  };
}

/**
 * Compares every video of the term. `isoFor` says which ones also get the equal-SSIM search
 * (it costs two more encodes each).
 */
export async function compareVideos(
  videos: ProducedFile[],
  dir: string,
  isoFor: (video: ProducedFile) => boolean,
  log: (line: string) => void,
): Promise<VideoComparison[]> {
  const results: VideoComparison[] = [];
  for (const [i, video] of videos.entries()) {
    const source = video.file.localPath;
    const name = `video-${i + 1}`;
    const rice = join(dir, `${name}.ricecooker.mp4`);
    const started = performance.now();
    await ricecookerCompress(source, rice);
    const ricecookerSeconds = (performance.now() - started) / 1000;
    const [oursSsim, ricecookerSsim] = await ssimAgainst(source, [video.localPath, rice]);
    const ricecookerBytes = await sizeOf(rice);
    const info = await probeVideo(source);
    const oursStreams = await streamBytes(video.localPath);
    const ricecookerStreams = await streamBytes(rice);
    const result: VideoComparison = {
      path: video.file.path,
      kind: video.kind,
      sourceBytes: video.sourceSize,
      sourceKbps: Math.round(info.bitRate / 1000),
      durationSeconds: info.durationSeconds,
      oursBytes: video.size,
      ricecookerBytes,
      bytesRatio: video.size / ricecookerBytes,
      oursStreams,
      ricecookerStreams,
      videoBytesRatio: oursStreams.video / ricecookerStreams.video,
      oursSsim,
      ricecookerSsim,
      ssimPass: oursSsim.all >= ricecookerSsim.all - SSIM_TOLERANCE,
      ricecookerSeconds,
    };
    // Smaller and at least as good (or bigger and worse) needs no search: one side dominates.
    const ratio = result.videoBytesRatio;
    const dominated = (ratio <= 1 && result.ssimPass) || (ratio >= 1 && !result.ssimPass);
    if (!dominated && isoFor(video)) {
      result.isoSsim = await isoSsim(
        source,
        dir,
        name,
        { bytes: ricecookerBytes, videoBytes: ricecookerStreams.video, ssim: ricecookerSsim.all },
        oursSsim.all,
        oursStreams.video,
      );
    }
    log(
      `${video.file.path}: ours ${video.size} B SSIM ${oursSsim.all.toFixed(4)}, ricecooker ` +
        `${ricecookerBytes} B SSIM ${ricecookerSsim.all.toFixed(4)} (${ricecookerSeconds.toFixed(1)} s)`,
    );
    results.push(result);
  }
  return results;
}
