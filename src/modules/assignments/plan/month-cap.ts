import { DateTime, IANAZone } from 'luxon';

/** 00:00 local on the 1st of the month after the one containing `atMs`, as UTC epoch ms. */
export function startOfNextLocalMonth(zone: IANAZone, atMs: number): number {
  return DateTime.fromMillis(atMs, { zone }).startOf('month').plus({ months: 1 }).toMillis();
}

/**
 * The monthly data cap as a running budget in bits (the simulator counts bits so a byte split
 * across a window edge is not rounded twice). Months are calendar months in the school's zone.
 */
export class MonthlyBudget {
  private remainingBits: number;
  private monthEnd: number;

  /**
   * @param capBytes null for no cap.
   * @param sentThisMonthBytes already used of the month containing `nowMs`; a value above the cap
   *   leaves nothing for this month rather than a negative budget.
   */
  constructor(
    private readonly zone: IANAZone,
    private readonly capBytes: number | null,
    sentThisMonthBytes: number,
    nowMs: number,
  ) {
    this.remainingBits =
      capBytes === null ? Infinity : Math.max(0, capBytes - Math.max(0, sentThisMonthBytes)) * 8;
    this.monthEnd = capBytes === null ? Infinity : startOfNextLocalMonth(zone, nowMs);
  }

  /** When the current month's budget is replenished; Infinity without a cap. */
  get monthEndMs(): number {
    return this.monthEnd;
  }

  get bitsLeft(): number {
    return this.remainingBits;
  }

  get exhausted(): boolean {
    return this.remainingBits <= 0;
  }

  spend(bits: number): void {
    this.remainingBits -= bits;
  }

  /** Moves to the month that starts at `monthEndMs`, with a full cap. */
  startNextMonth(): void {
    if (this.capBytes === null) return;
    this.remainingBits = this.capBytes * 8;
    this.monthEnd = startOfNextLocalMonth(this.zone, this.monthEnd);
  }
}
