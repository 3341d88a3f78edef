/**
 * Why a file could not be rendered. These are properties of the file (or of the budget given
 * to it), so a worker records them against that file and ships the rest of the lesson; anything
 * else thrown from this module is a programming or I/O error and should fail the job.
 */
export type MediaFailureKind = 'corrupt' | 'unsupported' | 'timeout' | 'failed';

export class MediaError extends Error {
  constructor(
    readonly kind: MediaFailureKind,
    message: string,
    /** The last lines ffmpeg/ffprobe wrote to stderr, for logs; the message holds the gist. */
    readonly stderrTail: readonly string[] = [],
  ) {
    super(message);
    this.name = 'MediaError';
  }
}

/** "2.5" for 2500 ms: error messages are read by people, not parsed. */
export function formatSeconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}
