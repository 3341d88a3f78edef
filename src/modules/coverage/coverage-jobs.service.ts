import { Inject, Injectable, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { ENV, Env } from '../../config/env';
import { JobHandlers } from '../../jobs/job-handlers';
import { JobsService } from '../../jobs/jobs.service';
import { CoverageRefresher } from './coverage.refresher';

/** The rollup refresh runs on the maintenance queue every COVERAGE_REFRESH_SECONDS. */
@Injectable()
export class CoverageJobs implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    private readonly handlers: JobHandlers,
    private readonly jobs: JobsService,
    private readonly refresher: CoverageRefresher,
    @Inject(ENV) private readonly env: Env,
  ) {}

  onModuleInit(): void {
    this.handlers.register('coverage.refresh', async () => {
      // A pass longer than the interval would only queue up behind itself.
      const budgetMs = Math.max(1000, this.env.coverageRefreshSeconds * 1000);
      return this.refresher.refresh({ budgetMs, yieldToBulkWrites: true });
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.env.role !== 'worker' && this.env.role !== 'all') return;
    await this.jobs
      .queue('maintenance')
      .upsertJobScheduler(
        'coverage-refresh',
        { every: this.env.coverageRefreshSeconds * 1000 },
        { name: 'coverage.refresh', data: {}, opts: { attempts: 1 } },
      );
  }
}
