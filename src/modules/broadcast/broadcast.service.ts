import { Injectable } from '@nestjs/common';
import { Page, PageQuery, page } from '../../common/http/pagination';
import { JobsService } from '../../jobs/jobs.service';
import { Principal } from '../auth/principal';
import { BroadcastRepository, SlotRow } from './broadcast.repository';
import { LossService, ReceiptLoss } from './loss.service';

export interface DecisionView {
  lessonId: string;
  version: number;
  filesKey: string;
  schools: number;
  bytes: number;
  overhead: number;
  via: 'broadcast' | 'unicast';
  reason: string;
  broadcastBytes: number;
  unicastBytes: number;
  bundleId: string | null;
  decidedAt: string;
}

export interface SlotView {
  bundleId: string;
  state: string;
  bundleState: string;
  sha256: string | null;
  schools: number;
  dueDate: string | null;
  overhead: number;
  cycles: number;
  cyclesSent: number;
  cycleBytes: number;
  bytesSent: number;
  startsAt: string | null;
  firstCycleEndsAt: string | null;
  endsAt: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : null);

export function slotView(s: SlotRow): SlotView {
  return {
    bundleId: s.bundle_id,
    state: s.state,
    bundleState: s.bundle_state,
    sha256: s.bundle_sha256,
    schools: s.schools,
    dueDate: s.due_date,
    overhead: s.overhead,
    cycles: s.cycles,
    cyclesSent: s.cycles_sent,
    cycleBytes: Number(s.cycle_bytes),
    bytesSent: Number(s.bytes_sent),
    startsAt: iso(s.starts_at),
    firstCycleEndsAt: iso(s.first_cycle_ends_at),
    endsAt: iso(s.ends_at),
  };
}

/** What other features and the admin routes ask of broadcast. */
@Injectable()
export class BroadcastService {
  constructor(
    private readonly repo: BroadcastRepository,
    private readonly loss: LossService,
    private readonly jobs: JobsService,
  ) {}

  planNow(p: Principal): Promise<{ jobId: string }> {
    return this.jobs.enqueue('broadcast.plan', {}, { userId: p.id }).then((jobId) => ({ jobId }));
  }

  /**
   * For the receipts route: a receipt that came by broadcast tunes its region's repair overhead.
   * Returns the region's blended loss, or null when the receipt carried nothing usable.
   */
  recordReceipt(
    schoolId: string,
    receipt: { via: string; loss?: ReceiptLoss | null },
  ): Promise<number | null> {
    if (receipt.via !== 'broadcast' || !receipt.loss) return Promise.resolve(null);
    return this.loss.recordReceipt(schoolId, receipt.loss);
  }

  async decisions(
    query: PageQuery & { via?: 'broadcast' | 'unicast' },
  ): Promise<Page<DecisionView>> {
    const rows = await this.repo.decisions(
      query.via ?? null,
      query.pageSize,
      (query.page - 1) * query.pageSize,
    );
    return page(
      rows.map((r) => ({
        lessonId: r.lesson_id as string,
        version: r.version as number,
        filesKey: r.files_key as string,
        schools: r.schools as number,
        bytes: Number(r.bytes),
        overhead: r.overhead as number,
        via: r.via as 'broadcast' | 'unicast',
        reason: r.reason as string,
        broadcastBytes: Number(r.broadcast_bytes),
        unicastBytes: Number(r.unicast_bytes),
        bundleId: (r.bundle_id as string | null) ?? null,
        decidedAt: (r.decided_at as Date).toISOString(),
      })),
      rows[0]?.total ?? 0,
      query,
    );
  }

  async schedule(): Promise<SlotView[]> {
    return (await this.repo.allSlots()).map(slotView);
  }
}
