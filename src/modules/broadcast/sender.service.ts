import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { CarouselSender, cutFiles, type BroadcastFile } from '../../broadcast';
import { ENV, Env } from '../../config/env';
import { bundleLocation, manifestLocation } from '../../protocol/broadcast';
import type { SignedEnvelope } from '../../protocol/sync';
import { isOpenAt, buildSchedule } from '../assignments/plan/windows';
import { CoverageService } from '../coverage/coverage.service';
import { ManifestService } from '../delivery/manifest.service';
import { stageBlob } from '../packaging/blob-staging';
import { StorageService } from '../storage/storage.service';
import { BroadcastPlanningService } from './broadcast-planning.service';
import { BroadcastRepository, SlotRow } from './broadcast.repository';

/** Signed sync manifests of schools, as the delivery feature serves them. */
export type ManifestSource = (
  schoolIds: string[],
) => Promise<{ schoolId: string; envelope: SignedEnvelope }[]>;

const TICK_MS = 2000;

/**
 * The satellite carousel sender (the `broadcast` role): takes the next due slot, puts its bundle
 * and its schools' signed sync manifests on the air with the FLUTE engine, paced at the channel
 * rate, for the planned cycles, and books the satellite bytes in coverage. One sender at a time:
 * a PostgreSQL advisory lock keeps a second replica idle.
 */
@Injectable()
export class BroadcastSenderService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(BroadcastSenderService.name);
  private manifests: ManifestSource = () => Promise.resolve([]);
  private timer?: NodeJS.Timeout;
  private readonly abort = new AbortController();
  private busy?: Promise<void>;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly repo: BroadcastRepository,
    private readonly planning: BroadcastPlanningService,
    private readonly storage: StorageService,
    private readonly coverage: CoverageService,
    delivery: ManifestService,
    @Inject(ENV) private readonly env: Env,
  ) {
    // The manifests exactly as GET /sync/manifest serves them (brought up to date first, so they
    // list the bundle going on the air): receivers verify the same bytes.
    this.manifests = (schoolIds) =>
      Promise.all(
        schoolIds.map(async (schoolId) => {
          await delivery.compute(schoolId);
          return {
            schoolId,
            envelope: JSON.parse((await delivery.current(schoolId)).body) as SignedEnvelope,
          };
        }),
      );
  }

  /** The delivery feature hands its signed manifests to the carousel through this. */
  useManifests(source: ManifestSource): void {
    this.manifests = source;
  }

  onApplicationBootstrap(): void {
    if (this.env.role !== 'broadcast' && this.env.role !== 'all') return;
    if (this.env.broadcast.addresses.length === 0) {
      this.logger.log('BROADCAST_ADDRESSES is empty: the carousel sender stays idle');
      return;
    }
    const loop = () => {
      this.busy = this.tick()
        .then(() => undefined)
        .catch((err: unknown) =>
          this.logger.error({ err: (err as Error).message }, 'carousel tick failed'),
        )
        .finally(() => {
          if (!this.abort.signal.aborted) this.timer = setTimeout(loop, TICK_MS);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
  }

  /** Sends the next slot that is due, if the broadcast window is open. Returns whether it sent. */
  async tick(now = new Date()): Promise<boolean> {
    const b = this.env.broadcast;
    if (!isOpenAt(buildSchedule(b.windows, b.timezone), now.getTime())) return false;
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = (await runner.query(
        `SELECT pg_try_advisory_lock(hashtext('classcast-broadcast-sender')) AS locked`,
      )) as { locked: boolean }[];
      if (!locked) return false;
      try {
        const slot = (await this.repo.liveSlots()).find(
          (s) =>
            s.state !== 'unscheduled' &&
            s.bundle_state === 'ready' &&
            s.bundle_sha256 !== null &&
            (s.starts_at === null || s.starts_at.getTime() <= now.getTime() + TICK_MS),
        );
        if (!slot) return false;
        await this.send(slot);
        return true;
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(hashtext('classcast-broadcast-sender'))`);
      }
    } finally {
      await runner.release();
    }
  }

  private async send(slot: SlotRow): Promise<void> {
    const b = this.env.broadcast;
    const sha = slot.bundle_sha256 as string;
    const work = join(this.env.dataDir, 'tmp', 'broadcast');
    await mkdir(work, { recursive: true });
    const tar = join(work, `${sha}.tar`);
    if (!(await stat(tar).catch(() => null))) await stageBlob(this.storage, sha, tar);
    const schoolIds = await this.repo.audience(slot.bundle_id);
    const manifests = await this.manifests(schoolIds);
    const files: BroadcastFile[] = [
      ...manifests.map((m) => ({
        contentLocation: manifestLocation(m.schoolId),
        contentType: 'application/json',
        source: { bytes: Buffer.from(JSON.stringify(m.envelope)) },
      })),
      {
        contentLocation: bundleLocation(slot.bundle_id),
        contentType: 'application/x-tar',
        source: { path: tar },
        sha256: sha,
      },
    ];
    const cycles = Math.max(1, slot.cycles - slot.cycles_sent);
    await this.repo.markSending(slot.bundle_id);
    this.logger.log(
      { bundleId: slot.bundle_id, cycles, schools: schoolIds.length, manifests: manifests.length },
      'carousel slot on the air',
    );
    const sender = await CarouselSender.prepare({
      tsi: b.tsi,
      objects: await cutFiles(files),
      destinations: b.addresses.map((a) => ({ address: a.host, port: a.port })),
      multicastInterface: b.multicastInterface,
      multicastTtl: b.ttl,
      rateBitsPerSecond: b.rateKbps * 1000,
      cycles,
      repairOverhead: slot.overhead,
      fec: 'raptorq',
      cacheDir: join(this.env.dataDir, 'broadcast-cache'),
      signal: this.abort.signal,
    });
    const bundleBytes = Number(slot.bundle_bytes ?? 0);
    sender.on('cycle', (c: { bytes: number }) => {
      void this.onCycle(slot, c.bytes, bundleBytes, schoolIds).catch((err: unknown) =>
        this.logger.error({ err: (err as Error).message }, 'cycle not booked'),
      );
    });
    try {
      const stats = await sender.run();
      this.logger.log(
        { bundleId: slot.bundle_id, cycles: stats.cycles, bytes: stats.bytes },
        'carousel slot sent',
      );
    } finally {
      await sender.close();
    }
    if (this.abort.signal.aborted) return;
    await this.repo.markDone(slot.bundle_id);
    await rm(tar, { force: true });
    await this.planning.reschedule();
  }

  /**
   * One cycle went out: its satellite bytes are booked once, against the region that holds the
   * audience (or its single school), with the unicast bytes it saved on the first cycle.
   */
  private async onCycle(
    slot: SlotRow,
    bytes: number,
    bundleBytes: number,
    schoolIds: string[],
  ): Promise<void> {
    const first = await this.repo.addCycle(slot.bundle_id, bytes);
    const saved = first ? Math.max(0, schoolIds.length * bundleBytes - bytes) : 0;
    const scope = await this.repo.commonRegion(schoolIds);
    if (!scope) return;
    await this.coverage.addSatelliteBytes({
      ...(schoolIds.length === 1 ? { schoolId: schoolIds[0] } : { regionId: scope }),
      via: 'broadcast',
      bytes,
      savedByBroadcast: saved,
    });
  }
}
