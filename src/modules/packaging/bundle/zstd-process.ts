import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../../common/errors/app-error';

/** Enough of zstd's stderr to explain a failure, without letting a chatty child fill memory. */
const STDERR_KEEP_BYTES = 8 * 1024;

export interface ZstdRun {
  args: string[];
  /** What the run is doing, for error messages ("compress lesson.json"). */
  what: string;
  timeoutMs: number;
  /** Piped to zstd's stdin; otherwise stdin is closed at once. */
  stdin?: Readable;
}

export interface ZstdResult {
  /** Bytes zstd wrote to stdout (runs that write to `-o <file>` write none). */
  stdoutBytes: number;
}

/**
 * Runs the zstd CLI in a child process, so compression never blocks the event loop and a worker's
 * BullMQ lock keeps renewing. The environment drops ZSTD_CLEVEL and ZSTD_NBTHREADS: they would
 * silently change the output bytes, and a bundle must be the same on every machine.
 * @throws AppError internal_error carrying zstd's stderr, on a non-zero exit, a timeout (the child
 *   is killed) or a missing binary.
 */
export function runZstd(run: ZstdRun): Promise<ZstdResult> {
  const env = { ...process.env };
  delete env.ZSTD_CLEVEL;
  delete env.ZSTD_NBTHREADS;
  const child = spawn('zstd', run.args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdoutBytes = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
  });
  let stderr = Buffer.alloc(0);
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = Buffer.concat([stderr, chunk]);
    if (stderr.length > STDERR_KEEP_BYTES) stderr = stderr.subarray(-STDERR_KEEP_BYTES);
  });

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, run.timeoutMs);

  // zstd may exit early (bad flags, a timeout): the feed then fails with EPIPE, which the exit
  // status explains better, so the feed's own error is not reported.
  const feeding = run.stdin ? pipeline(run.stdin, child.stdin).catch(() => undefined) : undefined;
  if (!run.stdin) child.stdin.end();

  const exited = new Promise<ZstdResult>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = err.code === 'ENOENT' ? ' (is zstd installed? apt-get install zstd)' : '';
      reject(new AppError('internal_error', `zstd ${run.what}: ${err.message}${hint}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = stderr.toString('utf8').trim();
      if (code === 0) {
        resolve({ stdoutBytes });
        return;
      }
      const why = timedOut
        ? `timed out after ${run.timeoutMs} ms`
        : `failed (${signal ? `signal ${signal}` : `exit ${code}`})`;
      reject(
        new AppError(
          'internal_error',
          `zstd ${run.what} ${why}${text ? `: ${lastLine(text)}` : ''}`,
          [{ args: run.args, stderr: text }],
        ),
      );
    });
  });
  return feeding ? Promise.all([exited, feeding]).then(([result]) => result) : exited;
}

/** A generous bound that still catches a hung child: 60 s plus 1 s per MiB of input. */
export function defaultTimeoutMs(inputBytes: number): number {
  return 60_000 + Math.ceil(inputBytes / (1024 * 1024)) * 1000;
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1] ?? text;
}
