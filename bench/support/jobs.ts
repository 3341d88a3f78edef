import type { Client } from 'pg';
import type { Api } from './api';
import { sleep } from './server';

export interface JobView<R = unknown> {
  id: string;
  state: 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';
  progress: number;
  result?: R;
  error?: string;
  createdAt: string;
  finishedAt?: string;
}

/**
 * Polls GET /jobs/:id every `intervalMs` until the job completes; throws when it fails or the
 * deadline passes. The caller's clock decides the figure; the job record's own times are kept.
 */
export async function waitForJob<R>(
  api: Api,
  token: string,
  jobId: string,
  options: { intervalMs: number; timeoutMs: number },
): Promise<JobView<R>> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const job = await api.call<JobView<R>>('GET', `/jobs/${jobId}`, { token });
    if (job.state === 'completed') return job;
    if (job.state === 'failed') throw new Error(`job ${jobId} failed: ${job.error ?? 'no error'}`);
    if (Date.now() > deadline) {
      throw new Error(
        `job ${jobId} still ${job.state} at ${job.progress}% after ${options.timeoutMs / 1000} s`,
      );
    }
    await sleep(options.intervalMs);
  }
}

/** Seconds between the job record's creation and its end, as the server saw them. */
export const serverSeconds = (job: JobView): number | null =>
  job.finishedAt ? (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1000 : null;

/**
 * Waits until every recorded need change has been folded by the debounced per-school jobs, so
 * the next measurement does not share the worker and the database with that backlog.
 */
export async function drainNeedChanges(
  db: Client,
  timeoutMs: number,
): Promise<{ seconds: number; pendingAtStart: number; left: number }> {
  const started = Date.now();
  const pending = async () =>
    (
      await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM school_event WHERE processed_at IS NULL`,
      )
    ).rows[0].n;
  const pendingAtStart = await pending();
  let left = pendingAtStart;
  while (left > 0 && Date.now() - started < timeoutMs) {
    await sleep(1000);
    left = await pending();
  }
  return { seconds: (Date.now() - started) / 1000, pendingAtStart, left };
}
