/**
 * ffmpeg and ffprobe as child processes with a time limit, progress, and errors that say why.
 */
import { basename } from 'node:path';
import { runProcess, type RunResult } from './child-process';
import { formatSeconds, MediaError } from './media-error';

const FFMPEG = 'ffmpeg';
const FFPROBE = 'ffprobe';

/**
 * Demuxers allowed to open lesson media. Without this list a file that merely claims to be a
 * video could be an HLS or concat playlist, which makes ffmpeg open other local files (the
 * classic "playlist in disguise" file-disclosure attack).
 */
const INPUT_DEMUXERS = 'mov,matroska,mp3,aac,ogg,wav,flac';

/**
 * Arguments that open one local media file: `file:` so a name like `concat:a|b` or `-x` is never
 * read as a protocol or an option, and only plain files and the demuxers above.
 */
export function fileInput(path: string): string[] {
  return ['-protocol_whitelist', 'file', '-format_whitelist', INPUT_DEMUXERS, '-i', `file:${path}`];
}

export interface FfmpegOptions {
  timeoutMs: number;
  /** Length of what is being written, so `out_time_us` can become a fraction. */
  durationSeconds?: number;
  /** Called with a non-decreasing fraction in [0, 1]; 1 once ffmpeg reports the end. */
  onProgress?: (fraction: number) => void;
  onStderrLine?: (line: string) => void;
  /** `error` keeps stderr to what explains a failure; filters that report via logs need `info`. */
  logLevel?: 'error' | 'warning' | 'info';
}

// Messages that mean the machine or the caller, not the media, is at fault: the job should fail
// (and retry) instead of recording the file as bad.
const IO_FAILURE =
  /No such file or directory|No space left on device|Read-only file system|Permission denied|Cannot allocate memory/;

/** The first stderr line and the last two, without the log prefixes' memory addresses. */
function stderrSummary(result: RunResult): string {
  const lines = [result.stderrFirstLine ?? '', ...result.stderrTail.slice(-2)]
    .map((line) => line.replace(/ @ 0x[0-9a-f]+\]/g, ']'))
    .filter((line) => line.length > 0);
  return [...new Set(lines)].join('; ') || 'no error output';
}

function progressParser(opts: FfmpegOptions): (line: string) => void {
  let reported = 0;
  const report = (fraction: number): void => {
    const clamped = Math.min(1, Math.max(0, fraction));
    if (clamped <= reported) return;
    reported = clamped;
    opts.onProgress?.(clamped);
  };
  return (line) => {
    const [key, value] = line.split('=', 2);
    if (key === 'progress' && value === 'end') report(1);
    else if (key === 'out_time_us' && opts.durationSeconds && opts.durationSeconds > 0) {
      const micros = Number(value);
      // ffmpeg prints N/A before the first frame; the last frame may overshoot the duration.
      if (Number.isFinite(micros)) report(micros / 1e6 / opts.durationSeconds);
    }
  };
}

/**
 * Runs ffmpeg to completion. Throws MediaError('timeout') after SIGKILL at the time limit,
 * MediaError('failed') with stderr's last lines on a non-zero exit caused by the input, and a
 * plain Error when the machine (disk, memory, permissions) is the cause.
 */
export async function runFfmpeg(args: string[], opts: FfmpegOptions): Promise<void> {
  const fullArgs = [
    '-nostdin',
    '-hide_banner',
    '-loglevel',
    opts.logLevel ?? 'error',
    '-progress',
    'pipe:1',
    '-nostats',
    ...args,
  ];
  const result = await runProcess(FFMPEG, fullArgs, {
    timeoutMs: opts.timeoutMs,
    onStdoutLine: progressParser(opts),
    onStderrLine: opts.onStderrLine,
  });
  throwOnFailure('ffmpeg', result, opts.timeoutMs);
}

function throwOnFailure(tool: string, result: RunResult, timeoutMs: number): void {
  if (result.timedOut) {
    throw new MediaError(
      'timeout',
      `${tool} timed out after ${formatSeconds(timeoutMs)} s`,
      result.stderrTail,
    );
  }
  if (result.exitCode === 0) return;
  const summary = stderrSummary(result);
  if (IO_FAILURE.test(summary)) throw new Error(`${tool} failed: ${summary}`);
  throw new MediaError(
    'failed',
    `${tool} exited with code ${String(result.exitCode)}: ${summary}`,
    result.stderrTail,
  );
}

export interface MediaProbe {
  durationSeconds: number;
  /** Display size: a phone video stored sideways with a rotation flag reports its upright size. */
  video?: { width: number; height: number; codec: string; fps: number };
  audio?: { codec: string; channels: number; sampleRate: number };
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  channels?: number;
  sample_rate?: string;
  duration?: string;
  disposition?: { attached_pic?: number };
  tags?: { rotate?: string };
  side_data_list?: { rotation?: number }[];
}

interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { duration?: string };
}

function frameRate(stream: FfprobeStream): number {
  for (const rate of [stream.avg_frame_rate, stream.r_frame_rate]) {
    const [num, den] = (rate ?? '').split('/').map(Number);
    if (num > 0 && den > 0) return num / den;
  }
  return 0;
}

function isSideways(stream: FfprobeStream): boolean {
  const rotation = stream.side_data_list?.find((d) => d.rotation !== undefined)?.rotation;
  const degrees = rotation ?? Number(stream.tags?.rotate ?? 0);
  return Math.abs(degrees) % 180 === 90;
}

function durationOf(output: FfprobeOutput, streams: FfprobeStream[]): number {
  const candidates = [output.format?.duration, ...streams.map((s) => s.duration)];
  for (const value of candidates) {
    const seconds = Number(value);
    if (value !== undefined && Number.isFinite(seconds) && seconds > 0) return seconds;
  }
  return 0;
}

function parseProbe(output: FfprobeOutput): MediaProbe {
  const streams = output.streams ?? [];
  // Cover art in audio files is a "video" stream of one picture: not a video.
  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const audio = streams.find((s) => s.codec_type === 'audio');
  const probe: MediaProbe = { durationSeconds: durationOf(output, streams) };
  if (video) {
    if (!video.codec_name || !video.width || !video.height) {
      throw new MediaError('unsupported', 'unsupported video stream: no decoder for its codec');
    }
    const [width, height] = isSideways(video)
      ? [video.height, video.width]
      : [video.width, video.height];
    probe.video = { width, height, codec: video.codec_name, fps: frameRate(video) };
  }
  if (audio) {
    if (!audio.codec_name || !audio.channels) {
      throw new MediaError('unsupported', 'unsupported audio stream: no decoder for its codec');
    }
    const sampleRate = Number(audio.sample_rate ?? 0);
    probe.audio = { codec: audio.codec_name, channels: audio.channels, sampleRate };
  }
  if (!probe.video && !probe.audio) {
    throw new MediaError('unsupported', 'no audio or video stream in the file');
  }
  return probe;
}

/**
 * Reads what the file holds. Rejects with MediaError('corrupt') when ffprobe cannot open it and
 * MediaError('unsupported') when it opens but holds nothing we can decode.
 */
export async function probe(path: string, opts: { timeoutMs: number }): Promise<MediaProbe> {
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams'];
  const result = await runProcess(FFPROBE, [...args, ...fileInput(path)], {
    timeoutMs: opts.timeoutMs,
    collectStdout: true,
  });
  if (result.timedOut || (result.exitCode !== 0 && IO_FAILURE.test(stderrSummary(result)))) {
    throwOnFailure('ffprobe', result, opts.timeoutMs);
  }
  if (result.exitCode !== 0) {
    // Server paths mean nothing to the bureau reading the reason; the file's own name does.
    const summary = stderrSummary(result).split(path).join(basename(path));
    throw new MediaError('corrupt', `unreadable media: ${summary}`, result.stderrTail);
  }
  let output: FfprobeOutput;
  try {
    output = JSON.parse(result.stdout) as FfprobeOutput;
  } catch {
    throw new MediaError('corrupt', 'unreadable media: ffprobe gave no description of the file');
  }
  return parseProbe(output);
}
