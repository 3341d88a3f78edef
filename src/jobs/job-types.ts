/**
 * Every background job Classcast runs: its name, its payload and the queue it travels on.
 * Adding a job means adding it here; the worker refuses to boot while any job lacks a handler.
 */
export interface JobPayloads {
  /** Removes resumable uploads idle longer than UPLOAD_IDLE_HOURS, and old job records. */
  'maintenance.expire-uploads': { idleHours: number };
}

export type JobName = keyof JobPayloads;

export const QUEUE_NAMES = ['maintenance'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export const JOB_QUEUE: { [N in JobName]: QueueName } = {
  'maintenance.expire-uploads': 'maintenance',
};

export const JOB_NAMES = Object.keys(JOB_QUEUE) as JobName[];

export interface JobContext {
  jobId: string;
  attempt: number;
  /** 0-100; shown by GET /jobs/:id. */
  progress(percent: number): Promise<void>;
}

export type JobHandler<N extends JobName> = (
  payload: JobPayloads[N],
  ctx: JobContext,
) => Promise<unknown>;
