import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { ENV, Env } from '../../config/env';
import { JobHandlers } from '../../jobs/job-handlers';
import { JobsService } from '../../jobs/jobs.service';
import { serializeManifestPayload, type SyncManifestLesson } from '../../protocol/sync';
import { BuildService } from '../packaging/build.service';
import { PlanningService, effectiveDevice } from '../packaging/planning.service';
import { RenditionsService } from '../packaging/renditions.service';
import { SchoolEventsService } from '../schools/school-events.service';
import { SigningService } from '../signing/signing.service';
import { DeliveryRepository, StoredManifest } from './delivery.repository';
import { lessonKey, manifestPayload, manifestState, nextPollSeconds } from './manifest-state';

/** A change that lands while a manifest is being computed is folded in by going round again. */
const MAX_ROUNDS = 3;
/**
 * Polls of one school's terminals within this window share one read of the stored manifest; a
 * change signed by another replica reaches them at most this much later.
 */
const READ_CACHE_MS = 1000;
const READ_CACHE_MAX = 50_000;

/**
 * The signed sync manifest of each school, precomputed and stored with its ETag: a poll reads
 * one row. It is recomputed by a debounced job when the school's assignments, holdings, bundles
 * or the signing key change; the version grows only when the content does.
 */
@Injectable()
export class ManifestService implements OnModuleInit {
  private readonly logger = new Logger(ManifestService.name);
  private readonly readCache = new Map<string, { manifest: StoredManifest; at: number }>();

  constructor(
    private readonly repo: DeliveryRepository,
    private readonly signing: SigningService,
    private readonly renditions: RenditionsService,
    private readonly jobs: JobsService,
    private readonly handlers: JobHandlers,
    private readonly events: SchoolEventsService,
    private readonly planning: PlanningService,
    private readonly builds: BuildService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  onModuleInit(): void {
    this.handlers.register('delivery.manifest', async ({ schoolId }) => {
      let result = await this.compute(schoolId);
      for (let round = 1; round < MAX_ROUNDS && (await this.repo.isDirty(schoolId)); round++) {
        result = await this.compute(schoolId);
      }
      return result;
    });
    this.events.onFolded((schoolId) => this.invalidate([schoolId]));
    this.planning.onPlanned((schoolId) => this.invalidate([schoolId]));
    this.builds.onBuilt(async (bundleId) =>
      this.invalidate(await this.repo.schoolsOfBundle(bundleId)),
    );
    this.events.addReconciler(async () => {
      const key = await this.signing.current();
      const stale = await this.repo.stale(key.keyId, this.env.syncManifestTtlHours);
      await this.schedule(stale, 0);
      return { manifestsRefreshed: stale.length };
    });
  }

  /** Marks the schools' manifests out of date and queues one recomputation per school. */
  async invalidate(schoolIds: string[]): Promise<void> {
    const unique = [...new Set(schoolIds)];
    if (unique.length === 0) return;
    await this.repo.markDirty(unique);
    await this.schedule(unique, this.env.syncManifestDebounceMs);
  }

  private async schedule(schoolIds: string[], delayMs: number): Promise<void> {
    for (let i = 0; i < schoolIds.length; i += 1000) {
      await this.jobs.enqueueMany(
        'delivery.manifest',
        schoolIds.slice(i, i + 1000).map((schoolId) => ({
          payload: { schoolId },
          key: `manifest-${schoolId}`,
          delay: delayMs,
        })),
      );
    }
  }

  /** The stored manifest; the first poll of a school computes it (later polls never do). */
  async current(schoolId: string): Promise<StoredManifest> {
    const cached = this.readCache.get(schoolId);
    if (cached && Date.now() - cached.at < READ_CACHE_MS) return cached.manifest;
    const stored = await this.repo.stored(schoolId);
    if (stored) {
      if (this.readCache.size >= READ_CACHE_MAX) this.readCache.clear();
      this.readCache.set(schoolId, { manifest: stored, at: Date.now() });
      return stored;
    }
    await this.compute(schoolId, { force: true });
    const made = await this.repo.stored(schoolId);
    if (!made) throw new Error(`no manifest for school ${schoolId}`);
    return made;
  }

  /**
   * Recomputes the school's manifest; signs and stores a new one only when the content changed
   * (version + 1), the signing key changed, or half of its lifetime has passed (same version).
   */
  async compute(
    schoolId: string,
    opts: { force?: boolean } = {},
  ): Promise<{ version: number | null; changed: boolean }> {
    const startedAt = new Date();
    const school = await this.repo.school(schoolId);
    if (!school) return { version: null, changed: false };
    // Schools without terminals get theirs on the first poll: 64,000 schools, few enrolled.
    if (!opts.force && !(await this.repo.hasActiveTerminal(schoolId)))
      return { version: null, changed: false };
    const [key, keysVersion, wanted, held, reported, bundles] = await Promise.all([
      this.signing.current(),
      this.repo.keysVersion(),
      this.repo.wanted(schoolId),
      this.repo.held(schoolId),
      this.repo.reportedLessons(schoolId),
      this.repo.readyBundles(schoolId),
    ]);
    const files = await this.installedFiles(school, [
      ...wanted.map((w) => ({ lessonId: w.lessonId, version: w.version })),
      ...[...held.entries()].map(([lessonId, version]) => ({ lessonId, version })),
    ]);
    const state = manifestState({
      schoolId,
      keyId: key.keyId,
      keysVersion,
      wanted,
      held,
      reported,
      bundles,
      files,
    });
    const entitled = new Set<string>();
    for (const l of state.lessons) for (const f of l.files) entitled.add(f.sha256);
    for (const b of bundles) for (const base of b.bases) entitled.add(base);

    const ttlMs = this.env.syncManifestTtlHours * 3600_000;
    const result = await this.repo.transaction(async (em) => {
      await this.repo.lockSchool(em, schoolId);
      const stored = await this.repo.stored(schoolId, em);
      const fresh = stored && stored.expiresAt.getTime() - Date.now() > ttlMs / 2;
      if (stored && stored.stateHash === state.stateHash && fresh) {
        await this.repo.clearDirty(em, schoolId, startedAt);
        return { version: stored.version, changed: false };
      }
      const changed = !stored || stored.stateHash !== state.stateHash;
      const version = stored ? stored.version + (changed ? 1 : 0) : 1;
      const issuedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
      const expires = new Date(issuedAt.getTime() + ttlMs);
      const payload = serializeManifestPayload(
        manifestPayload(schoolId, state, {
          version,
          issuedAt,
          expires,
          keysVersion,
          nextPollSeconds: nextPollSeconds(
            schoolId,
            version,
            this.env.syncPollSeconds,
            this.env.syncPollJitterPercent,
          ),
        }),
      );
      const signed = await this.signing.sign(Buffer.from(payload, 'utf8'));
      const etag = `"${createHash('sha256').update(payload).digest('hex').slice(0, 40)}"`;
      await this.repo.saveManifest(em, {
        schoolId,
        version,
        stateHash: state.stateHash,
        payload,
        signature: signed.signature.toString('base64'),
        keyId: signed.keyId,
        etag,
        entitledFiles: [...entitled].sort(),
        issuedAt,
        expiresAt: expires,
        startedAt,
      });
      await this.repo.offer(
        em,
        schoolId,
        state.bundles.map((b) => b.id),
      );
      this.logger.log(
        {
          schoolId,
          version,
          lessons: state.lessons.length,
          bundles: state.bundles.length,
          changed,
        },
        'sync manifest signed',
      );
      return { version, changed };
    });
    this.readCache.delete(schoolId);
    return result;
  }

  /** Files each lesson version installs for this school: the rendition for its profile, else the source. */
  async installedFiles(
    school: Parameters<typeof effectiveDevice>[0],
    pairs: { lessonId: string; version: number }[],
  ): Promise<Map<string, SyncManifestLesson['files']>> {
    const rows = await this.repo.lessonFiles(pairs);
    const sources = new Map(
      rows.map((f) => [
        f.sha256,
        { sha256: f.sha256, size: Number(f.size), mediaType: f.media_type },
      ]),
    );
    const produced = await this.renditions.produce([...sources.values()], effectiveDevice(school));
    const byLesson = new Map<string, SyncManifestLesson['files']>(
      pairs.map((p) => [lessonKey(p.lessonId, p.version), []]),
    );
    const unsettled = new Set<string>();
    for (const f of rows) {
      const key = lessonKey(f.lesson_id, f.version);
      const p = produced.get(f.sha256);
      if (!p || p.state !== 'settled') {
        unsettled.add(key);
        continue;
      }
      const list = byLesson.get(key) ?? [];
      byLesson.set(key, list);
      list.push({ path: f.path, sha256: p.sha256, size: p.size });
    }
    for (const key of unsettled) byLesson.delete(key);
    return byLesson;
  }
}
