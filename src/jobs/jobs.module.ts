import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Global, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ENV, Env } from '../config/env';
import { JobRecord } from './job-record.entity';
import { JobHandlers } from './job-handlers';
import { QUEUE_NAMES } from './job-types';
import { JobsController } from './jobs.controller';
import { JobsRepository } from './jobs.repository';
import { JobsService } from './jobs.service';
import { createQueueProcessor } from './queue.processor';

const HOUR = 3600;

/** Queues, the job facade and the handler registry: every role can enqueue. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forFeature([JobRecord]),
    BullModule.forRootAsync({
      inject: [ENV],
      useFactory: (env: Env) => ({
        connection: { url: env.redisUrl, maxRetriesPerRequest: null },
        prefix: env.redisPrefix,
        defaultJobOptions: {
          attempts: env.jobAttempts,
          backoff: { type: 'exponential', delay: env.jobBackoffSeconds * 1000 },
          removeOnComplete: { age: 24 * HOUR, count: 5000 },
          removeOnFail: { age: 7 * 24 * HOUR },
        },
      }),
    }),
    ...QUEUE_NAMES.map((name) => BullModule.registerQueue({ name })),
  ],
  providers: [JobsService, JobsRepository, JobHandlers],
  exports: [JobsService, JobsRepository, JobHandlers, BullModule],
})
export class JobsCoreModule {}

@Module({ controllers: [JobsController] })
export class JobsApiModule {}

/** Refuses to start a worker that would leave some job without a handler. */
@Injectable()
class HandlerCheck implements OnApplicationBootstrap {
  constructor(private readonly handlers: JobHandlers) {}
  onApplicationBootstrap(): void {
    const missing = this.handlers.missing();
    if (missing.length) throw new Error(`no handler registered for job(s): ${missing.join(', ')}`);
  }
}

/** One processor per queue, with lock and stall settings from configuration. */
@Module({})
export class JobsWorkerModule {
  static forRoot(env: Env): DynamicModule {
    const options = (concurrency: number) => ({
      concurrency,
      lockDuration: env.jobLockSeconds * 1000,
      stalledInterval: env.jobStalledSeconds * 1000,
      maxStalledCount: env.jobMaxStalled,
    });
    return {
      module: JobsWorkerModule,
      providers: [
        HandlerCheck,
        createQueueProcessor('maintenance', options(1)),
        createQueueProcessor('schools', options(4)),
        createQueueProcessor('assignments', options(1)),
        createQueueProcessor('media', options(env.mediaConcurrency)),
        createQueueProcessor('packaging', options(2)),
        createQueueProcessor('delivery', options(4)),
      ],
    };
  }
}
