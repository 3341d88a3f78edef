import { Module } from '@nestjs/common';
import { CatalogCoreModule } from '../catalog/catalog.module';
import { SchoolsCoreModule } from '../schools/schools.module';
import { BuildService } from './build.service';
import { BundlesController } from './bundles.controller';
import { BundlesService } from './bundles.service';
import { GarbageCollector } from './gc.service';
import { PlanningService } from './planning.service';
import { PackagingReconciler } from './reconciler.service';
import { RenditionsService } from './renditions.service';

/** Renditions, bundle planning and building, and the flow that keeps them in step with needs. */
@Module({
  imports: [SchoolsCoreModule, CatalogCoreModule],
  providers: [
    RenditionsService,
    PlanningService,
    BuildService,
    BundlesService,
    PackagingReconciler,
    GarbageCollector,
  ],
  exports: [RenditionsService, PlanningService, BuildService, BundlesService, GarbageCollector],
})
export class PackagingCoreModule {}

@Module({ imports: [PackagingCoreModule], controllers: [BundlesController] })
export class PackagingApiModule {}
