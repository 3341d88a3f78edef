import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Env } from '../config/env';
import { JobsApiModule } from '../jobs/jobs.module';
import { AuthModule } from '../modules/auth/auth.module';
import { CatalogApiModule } from '../modules/catalog/catalog.module';
import { HealthController } from '../modules/health/health.controller';
import { MetricsModule } from '../modules/metrics/metrics.module';
import { RegionsModule } from '../modules/regions/regions.module';
import { SchoolsApiModule } from '../modules/schools/schools.module';
import { SigningApiModule } from '../modules/signing/signing.module';
import { AssignmentsApiModule } from '../modules/assignments/assignments.module';
import { PackagingApiModule } from '../modules/packaging/packaging.module';
import { BroadcastApiModule } from '../modules/broadcast/broadcast.module';
import { CoverageApiModule } from '../modules/coverage/coverage.module';
import { DashboardModule } from '../modules/dashboard/dashboard.module';
import { DeliveryApiModule } from '../modules/delivery/delivery.module';

/** The HTTP side: routes under /api/v1, and health, metrics and docs at the root. */
@Module({})
export class ApiModule {
  static forRoot(_env: Env): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        AuthModule,
        RegionsModule,
        JobsApiModule,
        MetricsModule,
        CatalogApiModule,
        SigningApiModule,
        SchoolsApiModule,
        AssignmentsApiModule,
        PackagingApiModule,
        BroadcastApiModule,
        CoverageApiModule,
        DashboardModule,
        DeliveryApiModule,
      ],
      controllers: [HealthController],
    };
  }
}
