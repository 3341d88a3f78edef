import { MonthlyBudget } from './month-cap';
import { ReceiveSchedule, nextOpenSpan } from './windows';

export type SendOutcome =
  | { kind: 'arrived'; arrivalMs: number; waitedForCap: boolean }
  | { kind: 'beyond_horizon'; waitedForCap: boolean };

/**
 * A stretch of time in which the link is busy without a break: an open window clipped to the end
 * of the cap month and the horizon. Times inside it are derived from `bitsUsed` instead of being
 * accumulated, so back-to-back items add no rounding drift however many there are.
 */
interface Run {
  startMs: number;
  endMs: number;
  capacityBits: number;
  bitsUsed: number;
}

/** Whole bits the link carries in `ms` milliseconds; BigInt because ms * bps passes 2^53. */
function bitsIn(ms: number, bitsPerSecond: number): number {
  if (ms === Infinity) return Infinity;
  return Number((BigInt(ms) * BigInt(bitsPerSecond)) / 1000n);
}

/** Milliseconds, rounded up, to carry `bits`. */
function msFor(bits: number, bitsPerSecond: number): number {
  const divisor = BigInt(bitsPerSecond);
  return Number((BigInt(bits) * 1000n + divisor - 1n) / divisor);
}

/**
 * Sends items one after another over a link that is only open in its receive windows and only
 * while the monthly cap has room. It jumps from span to span, so its cost grows with the number
 * of windows crossed, not with the bytes sent.
 */
export class LinkSimulator {
  private run: Run | null = null;
  /** Where the search for the next run starts once the current one is used up. */
  private cursorMs: number;

  /**
   * @param bitsPerSecond a positive whole number.
   * @param horizonMs nothing is sent after this instant; a run ends there.
   */
  constructor(
    private readonly schedule: ReceiveSchedule,
    private readonly budget: MonthlyBudget,
    private readonly bitsPerSecond: number,
    nowMs: number,
    private readonly horizonMs: number,
  ) {
    this.cursorMs = nowMs;
  }

  send(bytes: number): SendOutcome {
    let bitsToSend = bytes * 8;
    let waitedForCap = false;
    while (bitsToSend > 0) {
      if (this.budget.exhausted) {
        waitedForCap = true;
        this.cursorMs = Math.max(this.cursorMs, this.budget.monthEndMs);
        this.run = null;
        this.budget.startNextMonth();
      }
      const run = this.run ?? this.openNextRun();
      if (run === null) return { kind: 'beyond_horizon', waitedForCap };
      const room = run.capacityBits - run.bitsUsed;
      if (room <= 0) {
        this.cursorMs = run.endMs;
        this.run = null;
        continue;
      }
      const taken = Math.min(bitsToSend, room, this.budget.bitsLeft);
      run.bitsUsed += taken;
      bitsToSend -= taken;
      this.budget.spend(taken);
    }
    return { kind: 'arrived', arrivalMs: this.positionMs(), waitedForCap };
  }

  /** Where the link stands: the end of the last bit sent, or the cursor between runs. */
  private positionMs(): number {
    if (this.run === null) return this.cursorMs;
    return this.run.startMs + msFor(this.run.bitsUsed, this.bitsPerSecond);
  }

  private openNextRun(): Run | null {
    for (;;) {
      if (this.cursorMs >= this.horizonMs) return null;
      if (this.cursorMs >= this.budget.monthEndMs) {
        this.budget.startNextMonth();
        continue;
      }
      const span = nextOpenSpan(this.schedule, this.cursorMs);
      if (span.startMs >= this.budget.monthEndMs) {
        // The next window opens in a later month, whose budget starts fresh.
        this.cursorMs = this.budget.monthEndMs;
        continue;
      }
      if (span.startMs >= this.horizonMs) return null;
      const endMs = Math.min(span.endMs, this.budget.monthEndMs, this.horizonMs);
      this.run = {
        startMs: span.startMs,
        endMs,
        capacityBits: bitsIn(endMs - span.startMs, this.bitsPerSecond),
        bitsUsed: 0,
      };
      return this.run;
    }
  }
}
