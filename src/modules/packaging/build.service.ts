import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ENV, Env } from '../../config/env';
import { JobHandlers } from '../../jobs/job-handlers';
import { MetricsService } from '../metrics/metrics.service';
import { SigningService } from '../signing/signing.service';
import { StorageService } from '../storage/storage.service';
import { BlobCorruptError, stageBlob } from './blob-staging';
import { buildBundle } from './bundle/bundle-builder';
import { Bundle } from './packaging.entities';

const MB = 1024 * 1024;

/**
 * Builds a bundle from its stored plan. A retried or duplicated build is harmless: the output is
 * written under a temporary name and only a complete, signed bundle becomes visible.
 */
@Injectable()
export class BuildService implements OnModuleInit {
  private readonly logger = new Logger(BuildService.name);
  private readonly builtListeners: ((bundleId: string) => Promise<void>)[] = [];

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly handlers: JobHandlers,
    private readonly storage: StorageService,
    private readonly signing: SigningService,
    private readonly metrics: MetricsService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  onModuleInit(): void {
    this.handlers.register('packaging.build', async ({ bundleId }, ctx) => {
      try {
        return await this.build(bundleId, (f) => ctx.progress(f * 100));
      } catch (err) {
        if (err instanceof BlobCorruptError) this.metrics.blobsCorrupt.inc();
        this.metrics.bundlesBuilt.inc({ result: 'error' });
        const final = ctx.attempt >= this.env.jobAttempts;
        await this.ds.getRepository(Bundle).update(
          { id: bundleId },
          {
            state: final ? 'failed' : 'queued',
            error: err instanceof Error ? err.message : String(err),
          },
        );
        throw err;
      }
    });
  }

  /** Delivery re-signs the manifests of the schools a newly ready bundle serves. */
  onBuilt(listener: (bundleId: string) => Promise<void>): void {
    this.builtListeners.push(listener);
  }

  async build(
    bundleId: string,
    progress: (fraction: number) => Promise<void>,
  ): Promise<{ bundleId: string; sha256: string }> {
    const repo = this.ds.getRepository(Bundle);
    const bundle = await repo.findOneBy({ id: bundleId });
    if (!bundle) throw new Error(`bundle ${bundleId} vanished`);
    if (bundle.state === 'ready' && bundle.sha256)
      return { bundleId, sha256: bundle.sha256.trim() };
    await repo.update({ id: bundleId }, { state: 'building', progress: 0, error: null });
    const work = await mkdtemp(join(this.env.dataDir, 'tmp', 'bundle-'));
    try {
      const files = [];
      const plan = bundle.plan;
      let staged = 0;
      for (const f of plan.files) {
        const localPath = join(work, f.sha256);
        await stageBlob(this.storage, f.sha256, localPath);
        let base: { sha256: string; size: number; localPath: string } | undefined;
        if (f.base && (await this.storage.has(f.base.sha256))) {
          base = { ...f.base, localPath: join(work, `base-${f.base.sha256}`) };
          await stageBlob(this.storage, f.base.sha256, base.localPath);
        }
        files.push({ ...f, localPath, base });
        staged += 1;
        await progress((0.3 * staged) / Math.max(1, plan.files.length));
      }
      const key = await this.signing.current();
      const output = join(work, 'bundle.tar');
      let lastReported = 0;
      const built = await buildBundle(
        {
          bundleId,
          audience: { type: bundle.audienceType, id: bundle.audienceId },
          lessons: plan.lessons,
          files,
          zstdLevel: plan.zstdLevel,
          patchMaxBaseBytes: this.env.patchMaxBaseMb * MB,
          workDir: join(work, 'build'),
          signer: { keyId: key.keyId, seed: key.seed },
          // stageBlob checked every byte against its sha256 on the way out of storage.
          inputsVerified: true,
          onProgress: (fraction) => {
            if (fraction - lastReported >= 0.05) {
              lastReported = fraction;
              void progress(0.3 + 0.65 * fraction).catch(() => undefined);
            }
          },
        },
        output,
      );
      const stagedBundle = await this.storage.stageExisting(output, {
        expectedSha256: built.sha256,
      });
      await this.storage.commit(stagedBundle, 'application/x-tar');
      const { readFile } = await import('node:fs/promises');
      const minisig = await readFile(`${output}.minisig`, 'utf8');
      await this.ds.query(
        `INSERT INTO blob (sha256, size, media_type) VALUES ($1, $2, 'application/x-tar') ON CONFLICT DO NOTHING`,
        [built.sha256, built.size],
      );
      await repo.update(
        { id: bundleId },
        {
          state: bundle.state === 'superseded' ? 'superseded' : 'ready',
          progress: 100,
          sha256: built.sha256,
          bundleBytes: built.size,
          sourceBytes: built.sourceBytes,
          manifest: built.manifest,
          minisig,
          readyAt: new Date(),
          error: null,
        },
      );
      this.metrics.bundlesBuilt.inc({ result: 'ready' });
      for (const listener of this.builtListeners) await listener(bundleId);
      this.logger.log(
        { bundleId, sha256: built.sha256, bytes: built.size, sourceBytes: built.sourceBytes },
        'bundle built',
      );
      return { bundleId, sha256: built.sha256 };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
