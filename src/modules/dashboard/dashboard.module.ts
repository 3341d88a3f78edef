import { Module } from '@nestjs/common';
import { RegionsModule } from '../regions/regions.module';
import { DashboardController } from './dashboard.controller';
import { DashboardRepository } from './dashboard.repository';
import { DashboardService } from './dashboard.service';

/** The admin dashboard: its static page at / (mounted in configureHttp) and the chart data. */
@Module({
  imports: [RegionsModule],
  controllers: [DashboardController],
  providers: [DashboardService, DashboardRepository],
})
export class DashboardModule {}
