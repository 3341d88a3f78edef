import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { ENV, Env } from '../../config/env';
import { JobHandlers } from '../../jobs/job-handlers';
import { JobsRepository } from '../../jobs/jobs.repository';
import { JobsService } from '../../jobs/jobs.service';
import { TusService } from './tus.service';
import { UploadsRepository } from './uploads.repository';

const HOUR = 3600_000;

/** Resumable uploads idle for UPLOAD_IDLE_HOURS are removed, with old job records. */
@Injectable()
export class UploadExpiryService implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(UploadExpiryService.name);

  constructor(
    private readonly handlers: JobHandlers,
    private readonly jobs: JobsService,
    private readonly jobRecords: JobsRepository,
    private readonly uploads: UploadsRepository,
    private readonly tus: TusService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  onModuleInit(): void {
    this.handlers.register('maintenance.expire-uploads', async ({ idleHours }, ctx) => {
      const removed = await this.expireIdle(idleHours);
      await ctx.progress(80);
      const jobRecords = await this.jobRecords.deleteFinishedBefore(
        new Date(Date.now() - this.env.jobRetentionHours * HOUR),
      );
      return { uploadsRemoved: removed, jobRecordsRemoved: jobRecords };
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.env.role !== 'worker' && this.env.role !== 'all') return;
    // One scheduler entry however many workers start: BullMQ upserts it by its id.
    await this.jobs.queue('maintenance').upsertJobScheduler(
      'expire-uploads',
      { every: HOUR },
      {
        name: 'maintenance.expire-uploads',
        data: { idleHours: this.env.uploadIdleHours },
        opts: { attempts: 1 },
      },
    );
  }

  async expireIdle(idleHours: number): Promise<number> {
    const cutoff = new Date(Date.now() - idleHours * HOUR);
    let removed = 0;
    for (;;) {
      const batch = await this.uploads.idleSince(cutoff, 200);
      if (batch.length === 0) break;
      for (const upload of batch) {
        await this.tus.remove(upload.id);
        removed += 1;
      }
    }
    if (removed) this.logger.log({ removed, idleHours }, 'removed idle uploads');
    return removed;
  }
}
