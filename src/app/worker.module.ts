import { Module } from '@nestjs/common';
import { JobsWorkerModule } from '../jobs/jobs.module';

/** The background side: one processor per queue; the handlers come from the feature services. */
@Module({ imports: [JobsWorkerModule] })
export class WorkerModule {}
