import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error';
import type { InventoryBody, ReceiptBody } from '../../protocol/sync';
import { SchoolEventsService } from '../schools/school-events.service';
import type { TerminalPrincipal } from '../schools/terminals.service';
import { DeliveryRepository } from './delivery.repository';
import { ManifestService } from './manifest.service';
import { lessonKey } from './manifest-state';

/**
 * Receipts and inventories from terminals: delivery states, what each terminal holds, and from
 * that the school's holdings (what every active terminal of the school has installed).
 */
@Injectable()
export class ReceiptsService {
  private readonly logger = new Logger(ReceiptsService.name);

  constructor(
    private readonly repo: DeliveryRepository,
    private readonly manifests: ManifestService,
    private readonly events: SchoolEventsService,
  ) {}

  async receipt(t: TerminalPrincipal, body: ReceiptBody): Promise<{ accepted: true }> {
    const lessons = await this.repo.bundleLessonsForSchool(body.bundleId, t.schoolId);
    if (!lessons) throw AppError.notFound('Bundle');
    const changed = await this.repo.transaction(async (em) => {
      await this.repo.lockSchool(em, t.schoolId);
      await this.repo.recordReceipt(em, {
        bundleId: body.bundleId,
        terminalId: t.terminalId,
        schoolId: t.schoolId,
        state: body.state,
        bytes: body.bytesReceived,
        via: body.via,
        error: body.state === 'failed' ? (body.error ?? 'failed without a message') : null,
        loss: body.loss,
      });
      if (body.state === 'installed') await this.repo.addTerminalLessons(em, t.terminalId, lessons);
      return this.reconcileHoldings(em, t.schoolId);
    });
    this.logger.log(
      { terminalId: t.terminalId, bundleId: body.bundleId, state: body.state, via: body.via },
      'receipt',
    );
    await this.afterHoldings(t.schoolId, changed);
    return { accepted: true };
  }

  async inventory(t: TerminalPrincipal, body: InventoryBody): Promise<{ accepted: true }> {
    const changed = await this.repo.transaction(async (em) => {
      await this.repo.lockSchool(em, t.schoolId);
      await this.repo.updateTerminal(em, t.terminalId, {
        freeBytes: body.freeBytes,
        agentVersion: body.agentVersion,
      });
      await this.repo.replaceTerminalLessons(em, t.terminalId, body.lessons);
      return this.reconcileHoldings(em, t.schoolId);
    });
    await this.afterHoldings(t.schoolId, changed);
    return { accepted: true };
  }

  private async afterHoldings(schoolId: string, changed: boolean): Promise<void> {
    // Holdings feed planning (a wiped terminal gets its lessons again) and the manifest.
    if (changed) await this.events.emit([schoolId], 'holdings.changed');
    else await this.manifests.invalidate([schoolId]);
  }

  /** Sets holding to what all active terminals hold; true when anything changed. */
  private async reconcileHoldings(
    em: Parameters<Parameters<DeliveryRepository['transaction']>[0]>[0],
    schoolId: string,
  ): Promise<boolean> {
    const common = await this.repo.commonLessons(em, schoolId);
    const current = await this.repo.holdingsForUpdate(em, schoolId);
    const deletes = [...current.keys()].filter((id) => !common.has(id));
    const upsertPairs = [...common.entries()]
      .filter(([id, v]) => current.get(id) !== v)
      .map(([lessonId, version]) => ({ lessonId, version }));
    if (deletes.length === 0 && upsertPairs.length === 0) return false;
    const school = await this.repo.school(schoolId);
    const files = school
      ? await this.manifests.installedFiles(school, upsertPairs)
      : new Map<string, { size: number }[]>();
    const upserts = upsertPairs.map((p) => ({
      ...p,
      bytes: (files.get(lessonKey(p.lessonId, p.version)) ?? []).reduce((n, f) => n + f.size, 0),
    }));
    await this.repo.setHoldings(em, schoolId, upserts, deletes);
    return true;
  }
}
