import { Module } from '@nestjs/common';
import { CatalogCoreModule } from '../catalog/catalog.module';
import { SchoolsCoreModule } from '../schools/schools.module';
import { AssignmentsController } from './assignments.controller';
import { AssignmentsRepository } from './assignments.repository';
import { AssignmentsService } from './assignments.service';
import { MatchingRepository } from './matching.repository';
import { MatchingService } from './matching.service';
import { PlanService } from './plan.service';

/** Assignments, gap matching and delivery plans: services for every role. */
@Module({
  imports: [CatalogCoreModule, SchoolsCoreModule],
  providers: [
    AssignmentsRepository,
    AssignmentsService,
    MatchingRepository,
    MatchingService,
    PlanService,
  ],
  exports: [AssignmentsService, MatchingService, PlanService],
})
export class AssignmentsCoreModule {}

@Module({ imports: [AssignmentsCoreModule], controllers: [AssignmentsController] })
export class AssignmentsApiModule {}
