import { Inject, Injectable, Logger } from '@nestjs/common';
import { ENV, Env } from '../../config/env';
import { BroadcastRepository } from './broadcast.repository';
import { blendLoss, overheadForLoss } from './planning/cost';

export interface ReceiptLoss {
  symbolsExpected: number;
  symbolsReceived: number;
  objectsRepaired?: number;
}

/**
 * The loss receivers report, blended per region, and the repair overhead it calls for. A region
 * without reports of its own takes its nearest ancestor's, else the configured expectation.
 */
@Injectable()
export class LossService {
  private readonly logger = new Logger(LossService.name);

  constructor(
    private readonly repo: BroadcastRepository,
    @Inject(ENV) private readonly env: Env,
  ) {}

  /** Called for every receipt that came by broadcast and reports its loss. */
  async recordReceipt(schoolId: string, loss: ReceiptLoss): Promise<number | null> {
    const expected = Math.floor(loss.symbolsExpected);
    const received = Math.floor(loss.symbolsReceived);
    if (!(expected > 0) || !(received >= 0)) return null;
    const regionId = await this.repo.schoolRegion(schoolId);
    if (!regionId) return null;
    const sample = Math.max(0, 1 - received / expected);
    const blended = await this.repo.blendRegionLoss(regionId, (prev) => blendLoss(prev, sample));
    this.logger.log({ schoolId, regionId, sample, blended }, 'broadcast loss reported');
    return blended;
  }

  /** Folds the loss of broadcast receipts the sync routes stored since the last call. */
  async foldReceipts(): Promise<number> {
    const rows = await this.repo.takeNewBroadcastLoss();
    let folded = 0;
    for (const r of rows) {
      const expected = Number(r.loss.symbolsExpected);
      const received = Number(r.loss.symbolsReceived);
      if (!Number.isFinite(expected) || !Number.isFinite(received)) continue;
      if (
        (await this.recordReceipt(r.school_id, {
          symbolsExpected: expected,
          symbolsReceived: received,
        })) !== null
      ) {
        folded += 1;
      }
    }
    return folded;
  }

  /** A lookup from a region path ("/root/child/.../self/") to the overhead planned for it. */
  async overheadByPath(): Promise<(path: string) => number> {
    const losses = await this.repo.regionLosses();
    const fallback = this.env.broadcast.expectedLoss;
    return (path: string) => {
      const ids = path.split('/').filter(Boolean).reverse();
      const own = ids.map((id) => losses.get(id)).find((l) => l !== undefined);
      return overheadForLoss(own ?? fallback);
    };
  }

  async regions(): Promise<
    { regionId: string; loss: number; overhead: number; samples: number; updatedAt: string }[]
  > {
    const rows = await this.repo.regionLossRows();
    return rows.map((r) => ({
      regionId: r.region_id,
      loss: r.loss,
      overhead: overheadForLoss(r.loss),
      samples: r.samples,
      updatedAt: r.updated_at.toISOString(),
    }));
  }
}
