import { Module } from '@nestjs/common';
import { RegionsModule } from '../regions/regions.module';
import { CoverageJobs } from './coverage-jobs.service';
import { CoverageMetrics } from './coverage-metrics.service';
import { CoverageController } from './coverage.controller';
import { CoverageRefresher } from './coverage.refresher';
import { CoverageRepository } from './coverage.repository';
import { CoverageService } from './coverage.service';

/**
 * Coverage rollups, their refresh job and operator metrics, for every role. CoverageService
 * is what other features use (the broadcast sender books satellite bytes through it).
 */
@Module({
  imports: [RegionsModule],
  providers: [
    CoverageRepository,
    CoverageRefresher,
    CoverageService,
    CoverageJobs,
    CoverageMetrics,
  ],
  exports: [CoverageService, CoverageRefresher],
})
export class CoverageCoreModule {}

@Module({ imports: [CoverageCoreModule], controllers: [CoverageController] })
export class CoverageApiModule {}
