import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ENV, Env } from '../../config/env';
import { returnedRows } from '../../database/columns';
import { JobHandlers } from '../../jobs/job-handlers';
import { JobsService } from '../../jobs/jobs.service';
import { StorageService } from '../storage/storage.service';

const DAY_MS = 24 * 3600_000;

/**
 * Garbage collection, daily: bundles superseded for longer than the grace period, renditions of
 * sources no lesson uses, blobs nothing references, and work files left by crashed jobs. A blob
 * is deleted from storage only after its row, and only when nothing points at it.
 */
@Injectable()
export class GarbageCollector implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(GarbageCollector.name);

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly handlers: JobHandlers,
    private readonly jobs: JobsService,
    private readonly storage: StorageService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  onModuleInit(): void {
    this.handlers.register('maintenance.gc', ({ graceDays }) => this.collect(graceDays));
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.env.role !== 'worker' && this.env.role !== 'all') return;
    await this.jobs
      .queue('maintenance')
      .upsertJobScheduler(
        'gc',
        { every: DAY_MS },
        { name: 'maintenance.gc', data: { graceDays: 7 }, opts: { attempts: 1 } },
      );
  }

  async collect(graceDays: number): Promise<Record<string, number>> {
    const grace = `${Math.max(0, graceDays)} days`;
    const bundles = returnedRows<{ id: string }>(
      await this.ds.query(
        `DELETE FROM bundle WHERE state = 'superseded' AND superseded_at < now() - $1::interval RETURNING id`,
        [grace],
      ),
    );
    const renditions = returnedRows<{ source_sha256: string }>(
      await this.ds.query(
        `DELETE FROM rendition r WHERE r.updated_at < now() - $1::interval
           AND NOT EXISTS (SELECT 1 FROM lesson_file f WHERE f.blob_sha256 = r.source_sha256)
         RETURNING r.source_sha256`,
        [grace],
      ),
    );
    const blobs = returnedRows<{ sha256: string }>(
      await this.ds.query(
        `DELETE FROM blob b WHERE b.created_at < now() - $1::interval
           AND NOT EXISTS (SELECT 1 FROM lesson_file f WHERE f.blob_sha256 = b.sha256)
           AND NOT EXISTS (SELECT 1 FROM rendition r WHERE r.blob_sha256 = b.sha256 OR r.source_sha256 = b.sha256)
           AND NOT EXISTS (SELECT 1 FROM bundle x WHERE x.sha256 = b.sha256)
         RETURNING trim(b.sha256) AS sha256`,
        [grace],
      ),
    );
    for (const blob of blobs) await this.storage.delete(blob.sha256);
    const workFiles = await this.storage.sweepWorkFiles(DAY_MS);
    const result = {
      bundlesRemoved: bundles.length,
      renditionsRemoved: renditions.length,
      blobsRemoved: blobs.length,
      workFilesRemoved: workFiles,
    };
    this.logger.log(result, 'garbage collected');
    return result;
  }
}
