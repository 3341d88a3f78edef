import { Module } from '@nestjs/common';
import { PackagingCoreModule } from '../packaging/packaging.module';
import { SchoolsCoreModule } from '../schools/schools.module';
import { ByteServingService } from './byte-serving.service';
import { DeliveryRepository } from './delivery.repository';
import { ManifestService } from './manifest.service';
import { ReceiptsService } from './receipts.service';
import { SyncController } from './sync.controller';

/** Terminal sync: signed manifests, ranged downloads, file repair, receipts and inventory. */
@Module({
  imports: [SchoolsCoreModule, PackagingCoreModule],
  providers: [DeliveryRepository, ManifestService, ReceiptsService, ByteServingService],
  exports: [ManifestService, ReceiptsService, ByteServingService, DeliveryRepository],
})
export class DeliveryCoreModule {}

@Module({ imports: [DeliveryCoreModule, SchoolsCoreModule], controllers: [SyncController] })
export class DeliveryApiModule {}
