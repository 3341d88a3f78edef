import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { JobsService } from '../../jobs/jobs.service';
import { SchoolEventsService } from '../schools/school-events.service';
import { PlanningService } from './planning.service';

/**
 * Re-derives pending packaging work from PostgreSQL, at start and on the reconcile timer, so a
 * wiped Redis loses nothing: schools not planned for their latest need, bundles not yet built,
 * renditions not yet rendered.
 */
@Injectable()
export class PackagingReconciler implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly events: SchoolEventsService,
    private readonly planning: PlanningService,
    private readonly jobs: JobsService,
  ) {}

  onModuleInit(): void {
    this.events.onFolded((schoolId) => this.planning.schedule([schoolId]));
    this.events.addReconciler(() => this.reconcile());
  }

  async reconcile(): Promise<Record<string, number>> {
    const schools = await this.ds.query<{ id: string }[]>(
      `SELECT s.id FROM school s WHERE s.planned_need_version < s.need_version
         AND NOT EXISTS (SELECT 1 FROM school_event e WHERE e.school_id = s.id AND e.processed_at IS NULL)
       LIMIT 5000`,
    );
    await this.planning.schedule(schools.map((s) => s.id));
    const bundles = await this.ds.query<{ id: string }[]>(
      `SELECT id FROM bundle WHERE state IN ('queued', 'building') LIMIT 5000`,
    );
    await this.jobs.enqueueMany(
      'packaging.build',
      bundles.map((b) => ({ payload: { bundleId: b.id }, key: `bundle-${b.id}` })),
    );
    const renditions = await this.ds.query<
      { source_sha256: string; profile: string; media_type: string; size: string }[]
    >(
      `SELECT trim(r.source_sha256) AS source_sha256, r.profile, b.media_type, b.size
       FROM rendition r JOIN blob b ON b.sha256 = r.source_sha256
       WHERE r.state = 'pending' AND r.updated_at < now() - interval '1 minute' LIMIT 5000`,
    );
    // The profile key alone cannot say the device: planning asks again for those schools.
    await this.planning.replanForSources(
      renditions.map((r) => ({ sha256: r.source_sha256, profile: r.profile })),
    );
    return {
      schoolsReplanned: schools.length,
      bundlesRequeued: bundles.length,
      renditionsRequeued: renditions.length,
    };
  }
}
