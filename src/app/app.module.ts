import { DynamicModule, Module } from '@nestjs/common';
import { Env } from '../config/env';
import { ApiModule } from './api.module';
import { CoreModule } from './core.module';
import { WorkerModule } from './worker.module';
import { BroadcastSenderModule } from '../modules/broadcast/broadcast.module';

/** The module tree for a role: api, worker, or all of them in one process. */
@Module({})
export class AppModule {
  static forRole(env: Env): DynamicModule {
    const serveHttp = env.role === 'api' || env.role === 'all';
    const runJobs = env.role === 'worker' || env.role === 'all';
    const sendCarousel = env.role === 'broadcast' || env.role === 'all';
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(env),
        ...(serveHttp ? [ApiModule.forRoot(env)] : []),
        ...(runJobs ? [WorkerModule.forRoot(env)] : []),
        ...(sendCarousel ? [BroadcastSenderModule] : []),
      ],
    };
  }
}
