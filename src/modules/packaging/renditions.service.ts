import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ENV, Env } from '../../config/env';
import { JobHandlers } from '../../jobs/job-handlers';
import { JobPayloads } from '../../jobs/job-types';
import { JobsService } from '../../jobs/jobs.service';
import { MetricsService } from '../metrics/metrics.service';
import { RenditionView } from '../catalog/lessons.dto';
import { LessonsService } from '../catalog/lessons.service';
import { DeviceProfile, profileKey, renderFor, renditionPlan } from '../media/renditions';
import { StorageService } from '../storage/storage.service';
import { stageBlob } from './blob-staging';
import { Rendition } from './packaging.entities';

export interface SourceFile {
  sha256: string;
  size: number;
  mediaType: string;
}

/** What a school's terminal installs for a source file: the rendition, or the source itself. */
export type Produced =
  { state: 'settled'; sha256: string; size: number; mediaType: string } | { state: 'waiting' };

/**
 * Renditions per device profile, cached by (source sha256, profile): a source is transcoded at
 * most once per profile. Rendering runs in ffmpeg child processes; bad media fails only itself.
 */
@Injectable()
export class RenditionsService implements OnModuleInit {
  private readonly logger = new Logger(RenditionsService.name);
  private onSettled: ((sourceSha256: string, profile: string) => Promise<void>) | null = null;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly jobs: JobsService,
    private readonly handlers: JobHandlers,
    private readonly storage: StorageService,
    private readonly metrics: MetricsService,
    private readonly lessons: LessonsService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  onModuleInit(): void {
    this.lessons.setRenditionLookup((shas) => this.listFor(shas));
    this.handlers.register('media.render', async (payload, ctx) => {
      try {
        return await this.render(payload, (f) => ctx.progress(f * 100), ctx.attempt);
      } catch (err) {
        if (ctx.attempt >= this.env.jobAttempts) await this.giveUp(payload, err);
        throw err;
      }
    });
  }

  /**
   * The last attempt failed with an error (a missing source blob, a full disk): the rendition is
   * marked failed so the source ships instead and the schools waiting for it are planned again,
   * rather than left pending for ever.
   */
  private async giveUp(payload: JobPayloads['media.render'], err: unknown): Promise<void> {
    const reason = `rendition gave up: ${err instanceof Error ? err.message : String(err)}`;
    const updated = await this.ds
      .getRepository(Rendition)
      .update(
        { sourceSha256: payload.sourceSha256, profile: payload.profile, state: 'pending' },
        { state: 'failed', reason: reason.slice(0, 500) },
      );
    if (!updated.affected) return;
    this.metrics.renditionsFailed.inc();
    this.logger.warn(
      { source: payload.sourceSha256, profile: payload.profile, reason },
      'rendition failed on its last attempt; the source ships instead',
    );
    await this.onSettled?.(payload.sourceSha256, payload.profile);
  }

  /** Planning asks to hear when a rendition settles, to plan the schools that waited for it. */
  whenSettled(listener: (sourceSha256: string, profile: string) => Promise<void>): void {
    this.onSettled = listener;
  }

  profileKey(device: DeviceProfile): string {
    return profileKey(device);
  }

  /**
   * The bytes each source becomes for this device. Missing renditions are queued and answer
   * `waiting`; a failed or not-smaller rendition falls back to the source.
   */
  async produce(files: SourceFile[], device: DeviceProfile): Promise<Map<string, Produced>> {
    const key = profileKey(device);
    const out = new Map<string, Produced>();
    const needed = files.filter((f) => renditionPlan(f, device).kind !== 'keep');
    for (const f of files) {
      if (!needed.includes(f))
        out.set(f.sha256, {
          state: 'settled',
          sha256: f.sha256,
          size: f.size,
          mediaType: f.mediaType,
        });
    }
    if (needed.length === 0) return out;
    const rows = await this.ds.getRepository(Rendition).find({
      where: needed.map((f) => ({ sourceSha256: f.sha256, profile: key })),
    });
    const bySha = new Map(rows.map((r) => [r.sourceSha256.trim(), r]));
    const missing: SourceFile[] = [];
    for (const f of needed) {
      const r = bySha.get(f.sha256);
      if (!r || r.state === 'pending') {
        // A pending row whose job a lost Redis forgot is asked for again; requests coalesce by key.
        missing.push(f);
        out.set(f.sha256, { state: 'waiting' });
      } else if (r.state === 'ready' && r.blobSha256) {
        out.set(f.sha256, {
          state: 'settled',
          sha256: r.blobSha256.trim(),
          size: r.size ?? 0,
          mediaType: r.mediaType ?? f.mediaType,
        });
      } else {
        out.set(f.sha256, {
          state: 'settled',
          sha256: f.sha256,
          size: f.size,
          mediaType: f.mediaType,
        });
      }
    }
    if (missing.length) await this.request(missing, device);
    return out;
  }

  /** Pending rows first (PostgreSQL is the truth), then jobs whose ids make duplicates coalesce. */
  async request(files: SourceFile[], device: DeviceProfile): Promise<void> {
    const key = profileKey(device);
    await this.ds
      .createQueryBuilder()
      .insert()
      .into(Rendition)
      .values(
        files.map((f) => ({ sourceSha256: f.sha256, profile: key, state: 'pending' as const })),
      )
      .orIgnore()
      .execute();
    await this.jobs.enqueueMany(
      'media.render',
      files.map((f) => ({
        payload: {
          sourceSha256: f.sha256,
          profile: key,
          mediaType: f.mediaType,
          size: f.size,
          device,
        },
        key: `render-${f.sha256}-${key}`,
      })),
    );
  }

  async render(
    payload: JobPayloads['media.render'],
    progress: (fraction: number) => Promise<void>,
    attempt = 1,
  ): Promise<{ state: string; reason?: string }> {
    const repo = this.ds.getRepository(Rendition);
    const row = await repo.findOneBy({
      sourceSha256: payload.sourceSha256,
      profile: payload.profile,
    });
    if (row && row.state !== 'pending') return { state: row.state };
    const work = await mkdtemp(join(this.env.dataDir, 'tmp', 'render-'));
    try {
      const source = join(work, 'source');
      await stageBlob(this.storage, payload.sourceSha256, source);
      await repo.increment(
        { sourceSha256: payload.sourceSha256, profile: payload.profile },
        'attempts',
        1,
      );
      const result = await renderFor(
        { path: source, mediaType: payload.mediaType, size: payload.size },
        payload.device as DeviceProfile,
        work,
        {
          timeoutMs: this.env.ffmpegTimeoutSeconds * 1000,
          onProgress: (f) => void progress(f).catch(() => undefined),
        },
      );
      if (result.state === 'ready') {
        const staged = await this.storage.stageExisting(result.path, {
          expectedSha256: result.sha256,
        });
        await this.storage.commit(staged, result.mediaType);
        await this.ds.query(
          `INSERT INTO blob (sha256, size, media_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
          [result.sha256, result.size, result.mediaType],
        );
        await repo.update(
          { sourceSha256: payload.sourceSha256, profile: payload.profile },
          {
            state: 'ready',
            blobSha256: result.sha256,
            size: result.size,
            mediaType: result.mediaType,
            reason: null,
          },
        );
      } else if (
        result.state === 'failed' &&
        /timed out/.test(result.reason) &&
        attempt < this.env.jobAttempts
      ) {
        // A hang may be the machine, not the file: try again later, with backoff.
        throw new Error(`rendition ${result.reason}; will retry`);
      } else {
        await repo.update(
          { sourceSha256: payload.sourceSha256, profile: payload.profile },
          { state: result.state, reason: result.reason },
        );
        if (result.state === 'failed') {
          this.metrics.renditionsFailed.inc();
          this.logger.warn(
            { source: payload.sourceSha256, profile: payload.profile, reason: result.reason },
            'rendition failed; the source ships instead',
          );
        }
      }
      await this.onSettled?.(payload.sourceSha256, payload.profile);
      return result.state === 'ready'
        ? { state: 'ready' }
        : { state: result.state, reason: result.reason };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async listFor(sourceSha256s: string[]): Promise<Map<string, RenditionView[]>> {
    const out = new Map<string, RenditionView[]>();
    if (sourceSha256s.length === 0) return out;
    const rows = await this.ds.getRepository(Rendition).find({
      where: sourceSha256s.map((sourceSha256) => ({ sourceSha256 })),
      order: { profile: 'ASC' },
    });
    for (const r of rows) {
      const list = out.get(r.sourceSha256.trim()) ?? [];
      list.push({
        profile: r.profile,
        size: r.size,
        sha256: r.blobSha256 ? r.blobSha256.trim() : null,
        state: r.state,
        ...(r.reason ? { reason: r.reason } : {}),
      });
      out.set(r.sourceSha256.trim(), list);
    }
    return out;
  }

  /** Pending renditions whose jobs a lost Redis forgot. */
  async pending(limit: number): Promise<Rendition[]> {
    return this.ds.getRepository(Rendition).find({ where: { state: 'pending' }, take: limit });
  }
}
