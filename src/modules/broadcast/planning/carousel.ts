import { LinkSimulator } from '../../assignments/plan/link-simulator';
import { MonthlyBudget } from '../../assignments/plan/month-cap';
import { PlanWindow, buildSchedule, isOpenAt, nextOpenSpan } from '../../assignments/plan/windows';

export interface CarouselEntry {
  bundleId: string;
  /** Bytes one cycle puts on the channel (objects, repair symbols, headers). */
  cycleBytes: number;
  /** Cycles still to send. */
  cycles: number;
  dueDate: string | null;
  /** Already on the air: it keeps the channel until it ends, whatever its due date. */
  sending: boolean;
  createdAt: string;
}

export interface CarouselSlot {
  bundleId: string;
  startsAt: number;
  /** When the first cycle ends: a receiver that heard all of it has decoded everything it could. */
  firstCycleEndsAt: number;
  endsAt: number;
}

export interface Channel {
  /** Kilobits (1000 bits) per second. */
  rateKbps: number;
  /** Broadcast windows; empty means the carousel may send at any time. */
  windows: PlanWindow[];
  timezone: string;
}

const HORIZON_MS = 366 * 24 * 3600 * 1000;

/**
 * Earliest due date first (undated last, then oldest first); what is on the air stays first.
 * Each entry occupies the channel for its cycles, inside the windows, at the channel rate.
 * Entries that do not fit within a year are left out (null times).
 */
export function scheduleCarousel(
  entries: CarouselEntry[],
  channel: Channel,
  nowMs: number,
): (CarouselSlot | { bundleId: string; startsAt: null; firstCycleEndsAt: null; endsAt: null })[] {
  const schedule = buildSchedule(channel.windows, channel.timezone);
  const link = new LinkSimulator(
    schedule,
    new MonthlyBudget(schedule.zone, null, 0, nowMs),
    Math.max(1, Math.round(channel.rateKbps * 1000)),
    Math.floor(nowMs),
    nowMs + HORIZON_MS,
  );
  const ordered = [...entries].sort((a, b) => {
    if (a.sending !== b.sending) return a.sending ? -1 : 1;
    if (a.dueDate !== b.dueDate) {
      if (a.dueDate === null) return 1;
      if (b.dueDate === null) return -1;
      return a.dueDate < b.dueDate ? -1 : 1;
    }
    if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
    return a.bundleId < b.bundleId ? -1 : 1;
  });
  return ordered.map((e) => {
    const start = link.send(0);
    const first = link.send(e.cycleBytes);
    const last = e.cycles > 1 ? link.send(e.cycleBytes * (e.cycles - 1)) : first;
    if (start.kind !== 'arrived' || first.kind !== 'arrived' || last.kind !== 'arrived') {
      return { bundleId: e.bundleId, startsAt: null, firstCycleEndsAt: null, endsAt: null };
    }
    // Between windows the position is where the last one closed; the slot starts at the next opening.
    const startsAt = isOpenAt(schedule, start.arrivalMs)
      ? start.arrivalMs
      : Math.min(nextOpenSpan(schedule, start.arrivalMs).startMs, first.arrivalMs);
    return {
      bundleId: e.bundleId,
      startsAt,
      firstCycleEndsAt: first.arrivalMs,
      endsAt: last.arrivalMs,
    };
  });
}
