import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, Type } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { MetricsService } from '../modules/metrics/metrics.service';
import { JobHandlers } from './job-handlers';
import { QueueName } from './job-types';
import { JobsRepository } from './jobs.repository';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One processor per queue, a switch over job names through the handler registry. It keeps the
 * PostgreSQL job record in step, so GET /jobs/:id works even after Redis has dropped the job.
 */
export interface ProcessorOptions {
  concurrency: number;
  lockDuration: number;
  stalledInterval: number;
  maxStalledCount: number;
}

export function createQueueProcessor(
  queue: QueueName,
  options: ProcessorOptions,
): Type<WorkerHost> {
  @Processor(queue, options)
  class QueueProcessor extends WorkerHost {
    private readonly logger = new Logger(`queue:${queue}`);

    constructor(
      private readonly handlers: JobHandlers,
      private readonly records: JobsRepository,
      private readonly metrics: MetricsService,
    ) {
      super();
    }

    async process(job: Job): Promise<unknown> {
      const id = job.id ?? 'unknown';
      const handler = this.handlers.get(job.name);
      if (!handler) throw new UnrecoverableError(`no handler for job ${job.name}`);
      const attempt = job.attemptsMade + 1;
      await this.records.markActive(id, attempt);
      let lastProgress = -1;
      const started = Date.now();
      try {
        const result = await handler(job.data as never, {
          jobId: id,
          attempt,
          progress: async (percent: number) => {
            const value = Math.max(0, Math.min(100, Math.round(percent)));
            if (value === lastProgress) return;
            lastProgress = value;
            await job.updateProgress(value);
            await this.records.setProgress(id, value);
          },
        });
        await this.records.finish(id, 'completed', result, null);
        this.metrics.jobDuration.observe(
          { queue, job: job.name, result: 'completed' },
          (Date.now() - started) / 1000,
        );
        this.logger.log({ jobId: id, job: job.name, ms: Date.now() - started }, 'job completed');
        return result;
      } catch (err) {
        const final = err instanceof UnrecoverableError || attempt >= (job.opts.attempts ?? 1);
        await this.records.finish(id, final ? 'failed' : 'delayed', null, message(err));
        this.metrics.jobDuration.observe(
          { queue, job: job.name, result: final ? 'failed' : 'retried' },
          (Date.now() - started) / 1000,
        );
        this.logger.warn(
          { jobId: id, job: job.name, attempt, final, err: message(err) },
          'job failed',
        );
        throw err;
      }
    }
  }
  return QueueProcessor;
}
