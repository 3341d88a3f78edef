import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { JobsOptions, Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { AppError } from '../common/errors/app-error';
import { Principal } from '../modules/auth/principal';
import { JOB_QUEUE, JobName, JobPayloads, QueueName } from './job-types';
import { JobsRepository } from './jobs.repository';

export interface JobView {
  id: string;
  name: string;
  state: string;
  progress: number;
  result?: unknown;
  error?: string;
  createdAt: string;
  finishedAt?: string;
}

/** The queue facade: every job is recorded in PostgreSQL before it is handed to BullMQ. */
@Injectable()
export class JobsService {
  private readonly queues: Record<QueueName, Queue>;

  constructor(
    @InjectQueue('maintenance') maintenance: Queue,
    @InjectQueue('schools') schools: Queue,
    @InjectQueue('assignments') assignments: Queue,
    @InjectQueue('media') media: Queue,
    @InjectQueue('packaging') packaging: Queue,
    @InjectQueue('delivery') delivery: Queue,
    private readonly records: JobsRepository,
  ) {
    this.queues = { maintenance, schools, assignments, media, packaging, delivery };
  }

  queue(name: QueueName): Queue {
    return this.queues[name];
  }

  allQueues(): Queue[] {
    return Object.values(this.queues);
  }

  async enqueue<N extends JobName>(
    name: N,
    payload: JobPayloads[N],
    opts: { userId?: string | null; jobId?: string } & Pick<JobsOptions, 'delay' | 'priority'> = {},
  ): Promise<string> {
    const jobId = opts.jobId ?? randomUUID();
    if (jobId.includes(':')) throw new Error(`job id ${jobId} must not contain ':'`);
    const queue = JOB_QUEUE[name];
    await this.records.insertIfAbsent({ id: jobId, queue, name, userId: opts.userId ?? null });
    await this.queues[queue].add(name, payload, {
      jobId,
      delay: opts.delay,
      priority: opts.priority,
    });
    return jobId;
  }

  /**
   * Many jobs of one name in one round trip, for internal work nobody polls (no job records).
   * Jobs that re-derive their work from PostgreSQL (plan a school, fold its need, sign its
   * manifest) coalesce by `key`: a request while one is waiting or delayed is absorbed by it
   * (per-school debouncing); a request while one is running queues exactly one more run after it,
   * so a change committed during a run is never lost; a failed job no longer blocks new requests.
   */
  async enqueueMany<N extends JobName>(
    name: N,
    jobs: { payload: JobPayloads[N]; key: string; delay?: number }[],
  ): Promise<void> {
    if (jobs.length === 0) return;
    await this.queues[JOB_QUEUE[name]].addBulk(
      jobs.map((j) => ({
        name,
        data: j.payload,
        opts: {
          deduplication: { id: j.key, keepLastIfActive: true },
          delay: j.delay,
          removeOnComplete: true,
          removeOnFail: { age: 24 * 3600 },
        },
      })),
    );
  }

  /** The caller's own job (admins: any job); anybody else's answers 404. */
  async view(p: Principal, id: string): Promise<JobView> {
    const record = await this.records.findById(id);
    if (!record || (p.role !== 'admin' && record.userId !== p.id)) throw AppError.notFound('Job');
    return {
      id: record.id,
      name: record.name,
      state: record.state,
      progress: record.progress,
      ...(record.result !== null ? { result: record.result } : {}),
      ...(record.error ? { error: record.error } : {}),
      createdAt: record.createdAt.toISOString(),
      ...(record.finishedAt ? { finishedAt: record.finishedAt.toISOString() } : {}),
    };
  }
}
