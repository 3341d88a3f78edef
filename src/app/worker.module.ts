import { DynamicModule, Module } from '@nestjs/common';
import { Env } from '../config/env';
import { JobsWorkerModule } from '../jobs/jobs.module';

/** The background side: one processor per queue; the handlers come from the feature services. */
@Module({})
export class WorkerModule {
  static forRoot(env: Env): DynamicModule {
    return { module: WorkerModule, imports: [JobsWorkerModule.forRoot(env)] };
  }
}
