import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { ENV, Env } from '../../config/env';
import { JobHandlers } from '../../jobs/job-handlers';
import { JobsService } from '../../jobs/jobs.service';
import { PlanService } from '../assignments/plan.service';
import { BundlePlan } from '../packaging/packaging.entities';
import { PlanningService, bundleIdOf, stableJson } from '../packaging/planning.service';
import { SchoolEventsService } from '../schools/school-events.service';
import { BROADCAST_AUDIENCE_PREFIX, BroadcastRepository } from './broadcast.repository';
import { LossService } from './loss.service';
import { scheduleCarousel } from './planning/carousel';
import { cycleBytes } from './planning/cost';
import { BroadcastItem, SchoolNeed, groupFiles, planBroadcast } from './planning/grouping';

/** Room on each cycle for the FDT instances and the audience's signed sync manifests. */
const MANIFEST_ALLOWANCE_BYTES = 4096;

export interface PlanRunResult {
  items: number;
  broadcastItems: number;
  bundles: string[];
  schoolsReplanned: number;
}

/**
 * Broadcast planning: from what broadcast-capable schools still need (their unicast bundles),
 * picks what is cheaper to broadcast, puts it in broadcast bundles (same format and build path,
 * audience a group), schedules the carousel, and hands the rest back to unicast planning.
 */
@Injectable()
export class BroadcastPlanningService implements OnModuleInit {
  private readonly logger = new Logger(BroadcastPlanningService.name);

  constructor(
    private readonly repo: BroadcastRepository,
    private readonly loss: LossService,
    private readonly packaging: PlanningService,
    private readonly plans: PlanService,
    private readonly jobs: JobsService,
    private readonly handlers: JobHandlers,
    private readonly events: SchoolEventsService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  onModuleInit(): void {
    const grace = this.env.broadcast.repairGraceHours;
    // What a broadcast stands for is not also sent by unicast, until its repair grace ends.
    this.packaging.coveredElsewhere(async (schoolId) => this.repo.coveredLessons(schoolId, grace));
    this.plans.arrivalsElsewhere(async (schoolId) => this.repo.arrivals(schoolId));
    this.handlers.register('broadcast.plan', async () => this.run());
    this.events.addReconciler(async () => {
      // Receipts' loss first, so this run's overheads already reflect it.
      const folded = await this.loss.foldReceipts();
      const expired = await this.repo.expireAudiences(grace);
      await this.packaging.schedule(expired);
      const run = await this.run();
      return {
        broadcastBundles: run.bundles.length,
        broadcastExpiredSchools: expired.length,
        broadcastLossFolded: folded,
      };
    });
  }

  async run(now = new Date()): Promise<PlanRunResult> {
    const b = this.env.broadcast;
    const needs = await this.needs();
    const { items, groups } = planBroadcast(needs, {
      cycles: b.cycles,
      repairFraction: b.repairFraction,
      minSchools: b.minSchools,
    });
    const bundleOf = new Map<BroadcastItem, string>();
    const bundles: string[] = [];
    const replan = new Set<string>();
    for (const group of groups) {
      const files = groupFiles(group);
      const lessons = group.items
        .map((i) => ({ lessonId: i.lessonId, version: i.version }))
        .sort((x, y) =>
          x.lessonId < y.lessonId ? -1 : x.lessonId > y.lessonId ? 1 : x.version - y.version,
        );
      const plan: BundlePlan = {
        format: 'classcast-bundle/1',
        lessons,
        files: files.map((f) => ({
          sha256: f.sha256,
          size: f.size,
          mediaType: f.mediaType,
          targets: f.targets,
        })),
        zstdLevel: this.env.zstdLevel,
      };
      // The audience kind is part of the state: a broadcast never shares an id with a unicast bundle.
      const hash = createHash('sha256')
        .update(stableJson({ audience: 'broadcast', plan }))
        .digest('hex');
      const bundleId = bundleIdOf(hash);
      const sourceBytes = files.reduce((n, f) => n + f.size, 0);
      const state = await this.repo.saveBroadcast({
        bundleId,
        audienceId: `${BROADCAST_AUDIENCE_PREFIX}${hash.slice(0, 32)}`,
        plan,
        sourceBytes,
        schoolIds: group.schoolIds,
        lessons,
        dueDate: group.dueDate,
        overhead: group.overhead,
        cycles: b.cycles,
        cycleBytes: cycleBytes(sourceBytes, group.overhead),
      });
      if (state === 'queued' || state === 'failed') {
        await this.jobs.enqueueMany('packaging.build', [
          { payload: { bundleId }, key: `bundle-${bundleId}` },
        ]);
      }
      for (const item of group.items) bundleOf.set(item, bundleId);
      for (const s of group.schoolIds) replan.add(s);
      bundles.push(bundleId);
    }
    await this.repo.saveDecisions(items, bundleOf);
    await this.reschedule(now);
    await this.packaging.schedule([...replan]);
    const result = {
      items: items.length,
      broadcastItems: items.filter((i) => i.decision.via === 'broadcast').length,
      bundles,
      schoolsReplanned: replan.size,
    };
    if (items.length > 0) this.logger.log(result, 'broadcast planned');
    return result;
  }

  /** Lays the live slots on the carousel again: earliest due date first, inside the windows. */
  async reschedule(now = new Date()): Promise<void> {
    const b = this.env.broadcast;
    const slots = await this.repo.liveSlots();
    const bytes = new Map<string, number>();
    const entries = slots.map((s) => {
      const objectBytes = Number(s.bundle_bytes ?? s.source_bytes);
      const perCycle =
        cycleBytes(objectBytes, s.overhead) + MANIFEST_ALLOWANCE_BYTES * (s.schools + 1);
      bytes.set(s.bundle_id, perCycle);
      return {
        bundleId: s.bundle_id,
        cycleBytes: perCycle,
        cycles: Math.max(1, s.cycles - s.cycles_sent),
        dueDate: s.due_date,
        sending: s.state === 'sending',
        createdAt: s.created_at.toISOString(),
      };
    });
    const times = scheduleCarousel(
      entries,
      { rateKbps: b.rateKbps, windows: b.windows, timezone: b.timezone },
      now.getTime(),
    );
    await this.repo.setSlotTimes(times, bytes);
  }

  /** Per broadcast-capable school: the lesson versions its live unicast bundle brings, by file. */
  private async needs(): Promise<SchoolNeed[]> {
    const rows = await this.repo.schoolBundlesOfReceivers();
    if (rows.length === 0) return [];
    const schoolIds = [...new Set(rows.map((r) => r.school_id))];
    const due = await this.repo.dueDates(schoolIds);
    const covered = await this.repo.coveredLessons(null, this.env.broadcast.repairGraceHours);
    const overheadOf = await this.loss.overheadByPath();
    return rows.map((row) => ({
      schoolId: row.school_id,
      overhead: overheadOf(row.region_path),
      lessons: row.plan.lessons
        .filter((l) => !covered.has(`${row.school_id}:${l.lessonId}:${l.version}`))
        .map((l) => ({
          lessonId: l.lessonId,
          version: l.version,
          dueDate: due.get(`${row.school_id}:${l.lessonId}`) ?? null,
          // A broadcast carries whole files: the schools' bases differ, so no patches.
          files: row.plan.files
            .filter((f) =>
              f.targets.some((t) => t.lessonId === l.lessonId && t.version === l.version),
            )
            .map((f) => ({
              sha256: f.sha256,
              size: f.size,
              mediaType: f.mediaType,
              targets: f.targets,
            })),
        }))
        .filter((l) => l.files.length > 0),
    }));
  }
}
