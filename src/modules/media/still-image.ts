/**
 * Detects slide lectures, for x264's `-tune stillimage`: weaker deblocking and stronger psy-rd
 * keep slide text crisp at CRF 29 (a legibility tune, not a size one: on the synthetic test
 * slides it costs about 9 % more bytes).
 *
 * Method: sample the video at 5 fps, scaled to 320 px grey, take the absolute difference of each
 * frame from the previous one (`tblend`), and let `blackframe` report the share of pixels that
 * barely changed (difference under STILL_PIXEL_DELTA). A frame is "still" when at most
 * 10 % of the picture changed in those 200 ms, so a lecturer's webcam inset or a moving pointer
 * does not count as motion; the video is mostly static when at least 70 % of sampled frames are
 * still. Measured on generated clips (still frames / sampled): slides with a moving webcam inset
 * 0.95 (the rest are the slide changes); ffmpeg's testsrc2, a still pattern with one small moving
 * box, 0.85; a camera pan over detail 0.00; a zoom 0.05. Decoding dominates the cost: 0.5 s for
 * 60 s of 720p slides, about 1 s for 8 s of detailed 720p video.
 */
import { fileInput, runFfmpeg } from './ffmpeg';

/** Luma difference (0-255) under which a pixel counts as unchanged: compression noise, not motion. */
const STILL_PIXEL_DELTA = 12;
/** Percentage of unchanged pixels for a frame to count as still. */
const STILL_FRAME_PERCENT = 90;
/** Share of still frames for the whole video to count as mostly static. */
const MOSTLY_STATIC_SHARE = 0.7;
const SAMPLE_FPS = 5;
const SAMPLE_WIDTH = 320;
/** Windows spread over a long video, so a title card or an intro does not decide for the rest. */
const SAMPLE_WINDOWS = 4;

export interface StillnessOptions {
  timeoutMs: number;
  /** At most this many seconds of video are decoded. */
  sampleSeconds: number;
  /** When known and long, the sample is taken from several points instead of the start only. */
  durationSeconds?: number;
  onProgress?: (fraction: number) => void;
}

export interface Stillness {
  sampledFrames: number;
  stillFrames: number;
  mostlyStatic: boolean;
}

function sampleWindows(opts: StillnessOptions): { start: number; seconds: number }[] {
  const duration = opts.durationSeconds ?? 0;
  if (duration <= opts.sampleSeconds * 2) return [{ start: 0, seconds: opts.sampleSeconds }];
  const seconds = opts.sampleSeconds / SAMPLE_WINDOWS;
  return Array.from({ length: SAMPLE_WINDOWS }, (_, i) => ({
    start: ((i + 0.5) * duration) / SAMPLE_WINDOWS - seconds / 2,
    seconds,
  }));
}

export async function analyseStillness(path: string, opts: StillnessOptions): Promise<Stillness> {
  const windows = sampleWindows(opts);
  const inputs = windows.flatMap((w) => [
    '-ss',
    w.start.toFixed(3),
    '-t',
    w.seconds.toFixed(3),
    ...fileInput(path),
  ]);
  const prepare = windows
    .map((_, i) => `[${i}:v:0]fps=${SAMPLE_FPS},scale=${SAMPLE_WIDTH}:-2,format=gray[s${i}]`)
    .join(';');
  const joined = windows.map((_, i) => `[s${i}]`).join('');
  const graph =
    `${prepare};${joined}concat=n=${windows.length}:v=1:a=0,` +
    `tblend=all_mode=difference,blackframe=amount=0:threshold=${STILL_PIXEL_DELTA}`;

  const unchanged: number[] = [];
  await runFfmpeg([...inputs, '-filter_complex', graph, '-an', '-f', 'null', '-'], {
    timeoutMs: opts.timeoutMs,
    durationSeconds: Math.min(opts.sampleSeconds, opts.durationSeconds ?? Infinity),
    onProgress: opts.onProgress,
    // blackframe reports each frame at info level: "... frame:12 pblack:98 pts:..."
    logLevel: 'info',
    onStderrLine: (line) => {
      const match = /Parsed_blackframe.* pblack:(\d+)/.exec(line);
      if (match) unchanged.push(Number(match[1]));
    },
  });
  const stillFrames = unchanged.filter((percent) => percent >= STILL_FRAME_PERCENT).length;
  return {
    sampledFrames: unchanged.length,
    stillFrames,
    mostlyStatic: unchanged.length > 0 && stillFrames / unchanged.length >= MOSTLY_STATIC_SHARE,
  };
}

/** True for slide lectures and other mostly still videos (see the method above). */
export async function isMostlyStatic(path: string, opts: StillnessOptions): Promise<boolean> {
  return (await analyseStillness(path, opts)).mostlyStatic;
}
