/**
 * Runs ffmpeg/ffprobe as child processes: the worker's event loop stays free (so BullMQ locks
 * keep renewing) and a hung or runaway process can be killed without taking the worker down.
 */
import { spawn } from 'node:child_process';

export interface RunOptions {
  timeoutMs: number;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** Keep stdout whole (ffprobe's JSON); otherwise it is only split into lines. */
  collectStdout?: boolean;
}

export interface RunResult {
  exitCode: number | null;
  timedOut: boolean;
  stdout: string;
  /** Often the cause: ffmpeg reports the error first and its consequences after. */
  stderrFirstLine: string | undefined;
  stderrTail: string[];
}

const STDERR_TAIL_LINES = 20;
const MAX_LINE_CHARS = 500;
// ffprobe JSON for a sane file is a few KB; a hostile file with thousands of streams must not
// grow the worker's heap without bound.
const MAX_STDOUT_CHARS = 4 * 1024 * 1024;

function lineSplitter(onLine: (line: string) => void): {
  push: (chunk: string) => void;
  end: () => void;
} {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk;
      const lines = pending.split(/\r?\n|\r/);
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.length > 0) onLine(line);
    },
    end() {
      if (pending.length > 0) onLine(pending);
      pending = '';
    },
  };
}

/**
 * Resolves when the process has exited (even non-zero, even killed), so callers may delete its
 * output knowing nothing will write to it again. Rejects only when it cannot be started.
 */
export function runProcess(command: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderrTail: string[] = [];
    let stderrFirstLine: string | undefined;
    let stdout = '';
    let timedOut = false;

    const stdoutLines = lineSplitter((line) => opts.onStdoutLine?.(line));
    const stderrLines = lineSplitter((line) => {
      stderrFirstLine ??= line.slice(0, MAX_LINE_CHARS);
      stderrTail.push(line.slice(0, MAX_LINE_CHARS));
      if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
      opts.onStderrLine?.(line);
    });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (opts.collectStdout && stdout.length < MAX_STDOUT_CHARS) stdout += chunk;
      stdoutLines.push(chunk);
    });
    child.stderr.on('data', (chunk: string) => stderrLines.push(chunk));

    // SIGKILL, not SIGTERM: a process stuck in a decoder loop may never get to its signal handler.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);

    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      stdoutLines.end();
      stderrLines.end();
      resolve({ exitCode, timedOut, stdout, stderrFirstLine, stderrTail });
    });
  });
}
