import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ENV, Env } from '../../config/env';
import { JobHandlers } from '../../jobs/job-handlers';
import { JobsService } from '../../jobs/jobs.service';
import { comparePlanItems } from '../assignments/plan/delivery-plan';
import { rung240, type DeviceProfile } from '../media/renditions';
import { BundlePlan, PlannedFile } from './packaging.entities';
import { RenditionsService, SourceFile } from './renditions.service';

const MB = 1024 * 1024;

interface WantedLesson {
  lesson_id: string;
  version: number;
  due_date: string | null;
  priority: number;
  created_at: Date;
}

interface FileRow {
  lesson_id: string;
  version: number;
  path: string;
  sha256: string;
  size: string;
  media_type: string;
}

export type PlanOutcome =
  | { state: 'waiting'; renditions: number }
  | { state: 'nothing' }
  | { state: 'planned'; bundleId: string };

/** Below this rate a school gets the 240p rung whatever its screen could show. */
export const WORST_LINK_KBPS = 1024;

export function effectiveDevice(s: {
  max_video_height: number;
  video_codecs: string[];
  image_formats: string[];
  downlink_kbps: number;
}): DeviceProfile {
  const device: DeviceProfile = {
    maxVideoHeight: s.max_video_height as DeviceProfile['maxVideoHeight'],
    videoCodecs: s.video_codecs,
    imageFormats: s.image_formats,
  };
  return s.downlink_kbps < WORST_LINK_KBPS ? rung240(device) : device;
}

/** What the school's receive windows carry in one day (all day when it has none). */
export function nightlyBytes(
  downlinkKbps: number,
  windows: { start: string; end: string }[],
): number {
  const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const open = windows.length
    ? Math.min(
        24 * 60,
        windows.reduce(
          (n, w) => n + ((minutes(w.end) - minutes(w.start) + 24 * 60) % (24 * 60) || 24 * 60),
          0,
        ),
      )
    : 24 * 60;
  return Math.max(1, Math.floor(open * 60 * downlinkKbps * 125));
}

/** A stable JSON text: keys sorted at every level, so equal plans hash equal. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A UUID-shaped id derived from the plan's hash: the same need gives the same bundle. */
export function bundleIdOf(planHash: string): string {
  const h = planHash;
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Per school: desired state (assigned, published lesson versions in its device profile) minus its
 * holdings = what to send, in delivery-plan order, cut to its storage and the bundle size limit.
 * Schools with the same need get the same plan hash, so they share one bundle.
 */
@Injectable()
export class PlanningService implements OnModuleInit {
  private readonly logger = new Logger(PlanningService.name);
  private covered: (schoolId: string) => Promise<Set<string>> = () =>
    Promise.resolve(new Set<string>());
  private readonly plannedListeners: ((schoolId: string) => Promise<void>)[] = [];

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly renditions: RenditionsService,
    private readonly jobs: JobsService,
    private readonly handlers: JobHandlers,
    @Inject(ENV) private readonly env: Env,
  ) {}

  onModuleInit(): void {
    this.handlers.register('packaging.plan', async ({ schoolId }) => {
      const outcome = await this.planSchool(schoolId);
      for (const listener of this.plannedListeners) await listener(schoolId);
      return outcome.state === 'planned'
        ? { ...outcome, bundleIds: [outcome.bundleId] }
        : { ...outcome, bundleIds: [] };
    });
    this.renditions.whenSettled((sha, profile) =>
      this.replanForSources([{ sha256: sha, profile }]),
    );
  }

  /**
   * Lesson versions ("lessonId:version") another path (a broadcast) brings the school: unicast
   * bundles leave them out.
   */
  coveredElsewhere(lookup: (schoolId: string) => Promise<Set<string>>): void {
    this.covered = lookup;
  }

  /** Delivery follows a finished plan (bundles bound or superseded) without packaging knowing it. */
  onPlanned(listener: (schoolId: string) => Promise<void>): void {
    this.plannedListeners.push(listener);
  }

  async schedule(schoolIds: string[]): Promise<void> {
    await this.jobs.enqueueMany(
      'packaging.plan',
      [...new Set(schoolIds)].map((schoolId) => ({
        payload: { schoolId },
        key: `plan-${schoolId}`,
      })),
    );
  }

  async planSchool(schoolId: string): Promise<PlanOutcome> {
    const [school] = await this.ds.query<
      {
        id: string;
        max_video_height: number;
        video_codecs: string[];
        image_formats: string[];
        storage_capacity_mb: number;
        need_version: string;
        downlink_kbps: number;
        windows: { start: string; end: string }[];
      }[]
    >(
      `SELECT id, max_video_height, video_codecs, image_formats, storage_capacity_mb, need_version,
              downlink_kbps, windows FROM school WHERE id = $1`,
      [schoolId],
    );
    if (!school) return { state: 'nothing' };
    const device = effectiveDevice(school);
    const wanted = await this.ds.query<WantedLesson[]>(
      `SELECT DISTINCT ON (a.lesson_id) a.lesson_id, l.published_version AS version,
              to_char(a.due_date, 'YYYY-MM-DD') AS due_date, a.priority, a.created_at
       FROM assignment a JOIN lesson l ON l.id = a.lesson_id
       WHERE a.school_id = $1 AND a.revoked_at IS NULL AND l.status = 'active' AND l.published_version IS NOT NULL
       ORDER BY a.lesson_id, a.due_date NULLS LAST, a.priority`,
      [schoolId],
    );
    const held = new Map(
      (
        await this.ds.query<{ lesson_id: string; version: number; bytes: string }[]>(
          `SELECT lesson_id, version, bytes FROM holding WHERE school_id = $1`,
          [schoolId],
        )
      ).map((h) => [h.lesson_id, { version: h.version, bytes: Number(h.bytes) }]),
    );
    const covered = await this.covered(schoolId);
    const toSend = wanted.filter(
      (w) =>
        (held.get(w.lesson_id)?.version ?? 0) < w.version &&
        !covered.has(`${w.lesson_id}:${w.version}`),
    );
    const wantedIds = new Set(wanted.map((w) => w.lesson_id));
    if (toSend.length === 0) {
      await this.supersedeOthers(schoolId, null, Number(school.need_version));
      return { state: 'nothing' };
    }
    const versions = [
      ...toSend.map((w) => [w.lesson_id, w.version] as const),
      ...toSend
        .filter((w) => held.has(w.lesson_id))
        .map((w) => [w.lesson_id, held.get(w.lesson_id)!.version] as const),
    ];
    const files = await this.ds.query<FileRow[]>(
      `SELECT f.lesson_id, f.version, f.path, trim(f.blob_sha256) AS sha256, f.size, f.media_type
       FROM lesson_file f JOIN unnest($1::uuid[], $2::int[]) AS v(lesson_id, version)
         ON f.lesson_id = v.lesson_id AND f.version = v.version`,
      [versions.map((v) => v[0]), versions.map((v) => v[1])],
    );
    const sources = new Map<string, SourceFile>();
    for (const f of files)
      sources.set(f.sha256, { sha256: f.sha256, size: Number(f.size), mediaType: f.media_type });
    const produced = await this.renditions.produce([...sources.values()], device);
    const waiting = [...produced.values()].filter((p) => p.state === 'waiting').length;
    if (waiting > 0) return { state: 'waiting', renditions: waiting };
    const out = (sha: string) => {
      const p = produced.get(sha);
      if (!p || p.state !== 'settled') throw new Error(`no produced file for ${sha}`);
      return p;
    };

    // Delivery-plan order, then cut to free storage and the bundle size limit.
    const ordered = [...toSend].sort((a, b) =>
      comparePlanItems(
        {
          lessonId: a.lesson_id,
          version: a.version,
          bytes: 0,
          dueDate: a.due_date,
          priority: a.priority,
          assignedAt: a.created_at.toISOString(),
        },
        {
          lessonId: b.lesson_id,
          version: b.version,
          bytes: 0,
          dueDate: b.due_date,
          priority: b.priority,
          assignedAt: b.created_at.toISOString(),
        },
      ),
    );
    const keptBytes = [...held.entries()]
      .filter(([id]) => wantedIds.has(id))
      .reduce((n, [, h]) => n + h.bytes, 0);
    let free = school.storage_capacity_mb * MB - keptBytes;
    let budget = Math.min(
      this.env.bundleMaxMb * MB,
      nightlyBytes(school.downlink_kbps, school.windows),
    );
    const chosen: WantedLesson[] = [];
    for (const lesson of ordered) {
      const bytes = files
        .filter((f) => f.lesson_id === lesson.lesson_id && f.version === lesson.version)
        .reduce((n, f) => n + out(f.sha256).size, 0);
      if (bytes > free || (bytes > budget && chosen.length > 0)) continue;
      chosen.push(lesson);
      free -= bytes;
      budget -= bytes;
    }
    if (chosen.length === 0) {
      await this.supersedeOthers(schoolId, null, Number(school.need_version));
      return { state: 'nothing' };
    }

    const plannedFiles = new Map<string, PlannedFile>();
    for (const lesson of chosen) {
      const oldVersion = held.get(lesson.lesson_id)?.version;
      for (const f of files.filter(
        (x) => x.lesson_id === lesson.lesson_id && x.version === lesson.version,
      )) {
        const p = out(f.sha256);
        const oldFile =
          oldVersion === undefined
            ? undefined
            : files.find(
                (x) =>
                  x.lesson_id === lesson.lesson_id && x.version === oldVersion && x.path === f.path,
              );
        const base =
          oldFile && out(oldFile.sha256).sha256 !== p.sha256 ? out(oldFile.sha256) : undefined;
        const entry = plannedFiles.get(p.sha256) ?? {
          sha256: p.sha256,
          size: p.size,
          mediaType: p.mediaType,
          ...(base ? { base: { sha256: base.sha256, size: base.size } } : {}),
          targets: [],
        };
        entry.targets.push({ lessonId: lesson.lesson_id, version: lesson.version, path: f.path });
        plannedFiles.set(p.sha256, entry);
      }
    }
    // A file the school already holds unchanged (same bytes in the old version) need not travel.
    const heldBytes = new Set(
      files
        .filter((f) => held.get(f.lesson_id)?.version === f.version)
        .map((f) => out(f.sha256).sha256),
    );
    const plan: BundlePlan = {
      format: 'classcast-bundle/1',
      lessons: chosen
        .map((l) => ({ lessonId: l.lesson_id, version: l.version }))
        .sort((a, b) =>
          a.lessonId < b.lessonId ? -1 : a.lessonId > b.lessonId ? 1 : a.version - b.version,
        ),
      files: [...plannedFiles.values()]
        .filter((f) => !heldBytes.has(f.sha256))
        .map((f) => ({
          ...f,
          targets: [...f.targets].sort((a, b) => stableJson(a).localeCompare(stableJson(b), 'en')),
        }))
        .sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1)),
      zstdLevel: this.env.zstdLevel,
    };
    const hash = createHash('sha256').update(stableJson(plan)).digest('hex');
    const bundleId = bundleIdOf(hash);
    const sourceBytes = plan.files.reduce((n, f) => n + f.size, 0);
    await this.ds.transaction(async (em) => {
      await em.query(
        `INSERT INTO bundle (id, audience_type, audience_id, state, plan, lessons, source_bytes)
         VALUES ($1, 'group', $2, 'queued', $3::jsonb, $4::jsonb, $5)
         ON CONFLICT (id) DO UPDATE SET state = CASE WHEN bundle.state = 'superseded' THEN
           (CASE WHEN bundle.sha256 IS NULL THEN 'queued' ELSE 'ready' END) ELSE bundle.state END,
           superseded_at = NULL, updated_at = now()`,
        [
          bundleId,
          hash.slice(0, 32),
          JSON.stringify(plan),
          JSON.stringify(plan.lessons),
          sourceBytes,
        ],
      );
      await em.query(
        `INSERT INTO bundle_school (bundle_id, school_id, need_version) VALUES ($1, $2, $3)
         ON CONFLICT (bundle_id, school_id) DO UPDATE SET superseded_at = NULL, need_version = EXCLUDED.need_version`,
        [bundleId, schoolId, school.need_version],
      );
    });
    await this.supersedeOthers(schoolId, bundleId, Number(school.need_version));
    const [bundle] = await this.ds.query<{ state: string }[]>(
      `SELECT state FROM bundle WHERE id = $1`,
      [bundleId],
    );
    if (bundle?.state === 'queued' || bundle?.state === 'failed') {
      await this.jobs.enqueueMany('packaging.build', [
        { payload: { bundleId }, key: `bundle-${bundleId}` },
      ]);
    }
    this.logger.log(
      { schoolId, bundleId, lessons: plan.lessons.length, files: plan.files.length },
      'bundle planned',
    );
    return { state: 'planned', bundleId };
  }

  /** The school's earlier bundles no longer match its need; one that no school needs is superseded. */
  private async supersedeOthers(
    schoolId: string,
    keep: string | null,
    needVersion: number,
  ): Promise<void> {
    await this.ds.transaction(async (em) => {
      // Broadcast bundles (audience "broadcast-...") follow their carousel, not the school's need.
      await em.query(
        `UPDATE bundle_school SET superseded_at = now()
         WHERE school_id = $1 AND superseded_at IS NULL AND ($2::uuid IS NULL OR bundle_id <> $2)
           AND bundle_id NOT IN (SELECT id FROM bundle WHERE audience_id LIKE 'broadcast-%')`,
        [schoolId, keep],
      );
      await em.query(
        `UPDATE bundle b SET state = 'superseded', superseded_at = now()
         WHERE b.state <> 'superseded' AND NOT EXISTS
           (SELECT 1 FROM bundle_school s WHERE s.bundle_id = b.id AND s.superseded_at IS NULL)
           AND EXISTS (SELECT 1 FROM bundle_school s WHERE s.bundle_id = b.id AND s.school_id = $1)`,
        [schoolId],
      );
      await em.query(
        `UPDATE school SET planned_need_version = $2 WHERE id = $1 AND planned_need_version < $2`,
        [schoolId, needVersion],
      );
    });
  }

  /** Renditions settled (or were lost): plan again the schools of that profile using the sources. */
  async replanForSources(sources: { sha256: string; profile: string }[]): Promise<void> {
    for (const { sha256, profile } of sources) await this.replanWaitingOn(sha256, profile);
  }

  private async replanWaitingOn(sourceSha256: string, profile: string): Promise<void> {
    const rows = await this.ds.query<
      {
        id: string;
        max_video_height: number;
        video_codecs: string[];
        image_formats: string[];
        downlink_kbps: number;
      }[]
    >(
      `SELECT DISTINCT s.id, s.max_video_height, s.video_codecs, s.image_formats, s.downlink_kbps
       FROM lesson_file f JOIN lesson l ON l.id = f.lesson_id AND f.version = l.published_version
       JOIN assignment a ON a.lesson_id = l.id AND a.revoked_at IS NULL
       JOIN school s ON s.id = a.school_id
       WHERE f.blob_sha256 = $1`,
      [sourceSha256],
    );
    const schools = rows.filter((s) => this.renditions.profileKey(effectiveDevice(s)) === profile);
    await this.schedule(schools.map((s) => s.id));
  }
}
