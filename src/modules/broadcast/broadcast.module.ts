import { Module } from '@nestjs/common';
import { AssignmentsCoreModule } from '../assignments/assignments.module';
import { PackagingCoreModule } from '../packaging/packaging.module';
import { SchoolsCoreModule } from '../schools/schools.module';
import { BroadcastController } from './broadcast.controller';
import { BroadcastPlanningService } from './broadcast-planning.service';
import { BroadcastRepository } from './broadcast.repository';
import { BroadcastService } from './broadcast.service';
import { LossService } from './loss.service';
import { BroadcastSenderService } from './sender.service';
import { CoverageCoreModule } from '../coverage/coverage.module';
import { DeliveryCoreModule } from '../delivery/delivery.module';

/** Broadcast planning and loss tuning: services for every role. */
@Module({
  imports: [SchoolsCoreModule, PackagingCoreModule, AssignmentsCoreModule],
  providers: [BroadcastRepository, LossService, BroadcastService, BroadcastPlanningService],
  exports: [BroadcastService, BroadcastPlanningService, LossService, BroadcastRepository],
})
export class BroadcastCoreModule {}

@Module({ imports: [BroadcastCoreModule], controllers: [BroadcastController] })
export class BroadcastApiModule {}

/** The carousel sender: only the broadcast role (and `all`) loads it. */
@Module({
  imports: [BroadcastCoreModule, CoverageCoreModule, DeliveryCoreModule],
  providers: [BroadcastSenderService],
  exports: [BroadcastSenderService],
})
export class BroadcastSenderModule {}
