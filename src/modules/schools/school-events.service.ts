import { Inject, Injectable, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returnedRows } from '../../database/columns';
import { ENV, Env } from '../../config/env';
import { JobHandlers } from '../../jobs/job-handlers';
import { JobsService } from '../../jobs/jobs.service';

export type NeedChange =
  | 'school.created'
  | 'school.changed'
  | 'assignment.created'
  | 'assignment.revoked'
  | 'lesson.published'
  | 'lesson.retired'
  | 'holdings.changed';

/**
 * "What this school should hold changed": recorded in PostgreSQL first (so a lost Redis loses
 * nothing), then one debounced job per school folds the burst into a new need version.
 */
@Injectable()
export class SchoolEventsService implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly jobs: JobsService,
    private readonly handlers: JobHandlers,
    @Inject(ENV) private readonly env: Env,
  ) {}

  private readonly foldListeners: ((schoolId: string) => Promise<void>)[] = [];
  private readonly reconcilers: (() => Promise<Record<string, number>>)[] = [];

  /** Packaging follows folded need changes without the schools module depending on it. */
  onFolded(listener: (schoolId: string) => Promise<void>): void {
    this.foldListeners.push(listener);
  }

  /** Other features add what they re-derive from PostgreSQL to the periodic reconcile. */
  addReconciler(reconcile: () => Promise<Record<string, number>>): void {
    this.reconcilers.push(reconcile);
  }

  onModuleInit(): void {
    this.handlers.register('schools.need-changed', async ({ schoolId }) => {
      const folded = await this.fold(schoolId);
      if (folded.events > 0) for (const listener of this.foldListeners) await listener(schoolId);
      return folded;
    });
    this.handlers.register('maintenance.reconcile', async () => {
      const result: Record<string, number> = { schoolsRescheduled: await this.reschedulePending() };
      for (const reconcile of this.reconcilers) Object.assign(result, await reconcile());
      return result;
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.env.role !== 'worker' && this.env.role !== 'all') return;
    // At start and then every minute: whatever Redis forgot is found again in PostgreSQL.
    await this.jobs
      .queue('maintenance')
      .upsertJobScheduler(
        'reconcile',
        { every: 60_000 },
        { name: 'maintenance.reconcile', data: {}, opts: { attempts: 1 } },
      );
  }

  /** Records the change for these schools inside the caller's transaction when given one. */
  async record(
    schoolIds: string[],
    kind: NeedChange,
    detail: Record<string, unknown> = {},
    em: EntityManager = this.ds.manager,
  ): Promise<void> {
    if (schoolIds.length === 0) return;
    await em.query(
      `INSERT INTO school_event (school_id, kind, detail)
       SELECT unnest($1::uuid[]), $2, $3::jsonb`,
      [schoolIds, kind, JSON.stringify(detail)],
    );
  }

  /** After commit: one job per school; a job already waiting for that school absorbs the rest. */
  async schedule(schoolIds: string[], delaySeconds = this.env.needDebounceSeconds): Promise<void> {
    const unique = [...new Set(schoolIds)];
    for (let i = 0; i < unique.length; i += 1000) {
      await this.jobs.enqueueMany(
        'schools.need-changed',
        unique.slice(i, i + 1000).map((schoolId) => ({
          payload: { schoolId },
          key: `need-${schoolId}`,
          delay: delaySeconds * 1000,
        })),
      );
    }
  }

  /**
   * Like `schedule`, for a writer that goes on changing other schools for a while: the fold
   * waits `holdSeconds` more than the debounce, so it does not compete with that writer.
   */
  async scheduleAfter(schoolIds: string[], holdSeconds: number): Promise<void> {
    await this.schedule(schoolIds, this.env.needDebounceSeconds + Math.max(0, holdSeconds));
  }

  async emit(
    schoolIds: string[],
    kind: NeedChange,
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    await this.record(schoolIds, kind, detail);
    await this.schedule(schoolIds);
  }

  /** Marks the school's pending events processed and moves its need version on, once per burst. */
  async fold(schoolId: string): Promise<{ events: number; needVersion: number | null }> {
    return this.ds.transaction(async (em) => {
      const rows = returnedRows<{ id: string }>(
        await em.query(
          `UPDATE school_event SET processed_at = now()
         WHERE school_id = $1 AND processed_at IS NULL RETURNING id`,
          [schoolId],
        ),
      );
      if (rows.length === 0) return { events: 0, needVersion: null };
      const [school] = returnedRows<{ need_version: string }>(
        await em.query(
          `UPDATE school SET need_version = need_version + 1 WHERE id = $1 RETURNING need_version`,
          [schoolId],
        ),
      );
      return { events: rows.length, needVersion: school ? Number(school.need_version) : null };
    });
  }

  /**
   * Schools whose events were never folded (Redis lost the jobs): schedule them again. Younger
   * events are left alone: their debounced job may still be waiting, or their writer (a gap
   * matching over thousands of schools) schedules them once it is done, and folding them early
   * would compete with it.
   */
  async reschedulePending(): Promise<number> {
    const rows = await this.ds.query<{ school_id: string }[]>(
      `SELECT DISTINCT school_id FROM school_event
       WHERE processed_at IS NULL AND created_at < now() - make_interval(secs => $1)`,
      [this.env.needReconcileAfterSeconds],
    );
    // These already waited at least one debounce period: fold them now.
    await this.schedule(
      rows.map((r) => r.school_id),
      0,
    );
    return rows.length;
  }
}
