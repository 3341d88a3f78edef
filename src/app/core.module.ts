import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from '../common/logging/logger.module';
import { RedisModule } from '../common/redis/redis.module';
import { ConfigModule } from '../config/config.module';
import { Env } from '../config/env';
import { DatabaseModule } from '../database/database.module';
import { JobsCoreModule } from '../jobs/jobs.module';
import { AuthCoreModule } from '../modules/auth/auth.module';
import { CatalogCoreModule } from '../modules/catalog/catalog.module';
import { MetricsCoreModule } from '../modules/metrics/metrics.module';
import { StorageModule } from '../modules/storage/storage.module';
import { SchoolsCoreModule } from '../modules/schools/schools.module';
import { SigningCoreModule } from '../modules/signing/signing.module';
import { AssignmentsCoreModule } from '../modules/assignments/assignments.module';
import { PackagingCoreModule } from '../modules/packaging/packaging.module';
import { BroadcastCoreModule } from '../modules/broadcast/broadcast.module';
import { CoverageCoreModule } from '../modules/coverage/coverage.module';
import { DeliveryCoreModule } from '../modules/delivery/delivery.module';

/** What every role shares: config, logging, PostgreSQL, Redis, queues, storage and the services. */
@Module({})
export class CoreModule {
  static forRoot(env: Env): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        ConfigModule.forRoot(env),
        LoggerModule,
        DatabaseModule,
        RedisModule,
        JobsCoreModule,
        StorageModule.forRoot({
          driver: env.storageDriver,
          dataDir: env.dataDir,
          s3: env.storageDriver === 's3' ? env.s3 : undefined,
        }),
        MetricsCoreModule,
        AuthCoreModule,
        CatalogCoreModule,
        SigningCoreModule,
        SchoolsCoreModule,
        AssignmentsCoreModule,
        PackagingCoreModule,
        BroadcastCoreModule,
        CoverageCoreModule,
        DeliveryCoreModule,
      ],
      exports: [CatalogCoreModule, SchoolsCoreModule, AssignmentsCoreModule],
    };
  }
}
