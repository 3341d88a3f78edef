import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error';
import { JobsService } from '../../jobs/jobs.service';
import { Principal } from '../auth/principal';
import { RegionsService } from '../regions/regions.service';
import { ActivityDay, ActivityQuery, ActivityView, QueuesView } from './dashboard.dto';
import { DashboardRepository } from './dashboard.repository';

const DAY_MS = 86_400_000;

@Injectable()
export class DashboardService {
  constructor(
    private readonly repo: DashboardRepository,
    private readonly regions: RegionsService,
    private readonly jobs: JobsService,
  ) {}

  /** Job counts of every queue, as the Bull Board shows them, for the dashboard's queue panel. */
  async queues(now = new Date()): Promise<QueuesView> {
    const items = await Promise.all(
      this.jobs.allQueues().map(async (q) => {
        const c = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
        return {
          name: q.name,
          waiting: c.waiting ?? 0,
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          completed: c.completed ?? 0,
          failed: c.failed ?? 0,
          paused: await q.isPaused(),
        };
      }),
    );
    items.sort((a, b) => a.name.localeCompare(b.name));
    return { asOf: now.toISOString(), items, page: 1, pageSize: items.length, total: items.length };
  }

  /** Installs and packaging savings per UTC day over the last `days` days, oldest first. */
  async activity(p: Principal, query: ActivityQuery, now = new Date()): Promise<ActivityView> {
    let scopePath = await this.regions.scopePath(p);
    if (query.regionId) {
      const region = await this.regions.findById(query.regionId);
      if (!region || !(await this.regions.canSee(p, region))) throw AppError.notFound('Region');
      scopePath = region.path;
    }
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const since = new Date(today - (query.days - 1) * DAY_MS);
    const counts = await this.repo.activitySince(since, scopePath);
    const items: ActivityDay[] = [];
    for (let t = since.getTime(); t <= today; t += DAY_MS) {
      const day = new Date(t).toISOString().slice(0, 10);
      const b = counts.bundles.get(day) ?? { bundles: 0, sourceBytes: 0, bundleBytes: 0 };
      items.push({
        day,
        installs: counts.installs.get(day) ?? 0,
        bundles: b.bundles,
        sourceBytes: b.sourceBytes,
        bundleBytes: b.bundleBytes,
        savedBytes: Math.max(0, b.sourceBytes - b.bundleBytes),
      });
    }
    return {
      asOf: now.toISOString(),
      items,
      page: 1,
      pageSize: items.length,
      total: items.length,
    };
  }
}
