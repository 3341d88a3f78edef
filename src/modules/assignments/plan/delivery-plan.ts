import { DateTime, IANAZone } from 'luxon';
import { LinkSimulator, SendOutcome } from './link-simulator';
import { MonthlyBudget } from './month-cap';
import { PlanWindow, buildSchedule } from './windows';

export type { PlanWindow } from './windows';
export { isWindowOpen, nextWindowChange, parseHHMM } from './windows';

export interface PlanSchool {
  /** IANA zone, e.g. "Asia/Shanghai"; windows, due dates and cap months are read in it. */
  timezone: string;
  /** Kilobits (1000 bits) per second; 0 means the school cannot receive. */
  downlinkKbps: number;
  /** Empty means always reachable. */
  windows: PlanWindow[];
  /** Null means no cap. */
  monthlyCapBytes: number | null;
  /** Already used of the cap in the local calendar month containing `now`. */
  bytesSentThisMonth: number;
  storageCapacityBytes: number;
  /** Lessons the terminal already holds and keeps. */
  heldBytes: number;
}

export interface PlanItemInput {
  lessonId: string;
  version: number;
  bytes: number;
  /** YYYY-MM-DD in the school's time zone. */
  dueDate: string | null;
  /** 1 (most urgent) .. 9. */
  priority: number;
  /** RFC 3339; breaks ties between equally urgent items. */
  assignedAt: string;
}

/** Listed in this order when several apply. */
export type PlanReason =
  | 'exceeds_storage'
  | 'broadcast'
  | 'unreachable'
  | 'beyond_horizon'
  | 'waits_for_monthly_cap'
  | 'late';

export interface PlanItem {
  lessonId: string;
  version: number;
  bytes: number;
  dueDate: string | null;
  priority: number;
  /** RFC 3339 UTC, whole seconds ("2026-11-29T03:12:40Z"); null when not sent or never arriving. */
  estimatedArrival: string | null;
  late: boolean;
  fits: boolean;
  reasons: PlanReason[];
}

export interface DeliveryPlan {
  storage: { capacityBytes: number; plannedBytes: number; fits: boolean };
  items: PlanItem[];
}

/** How far ahead the simulation looks; a backlog that needs longer is reported, not simulated. */
export const PLAN_HORIZON_YEARS = 5;

/**
 * Due date ascending (no due date last), priority ascending, assignedAt ascending (as instants, so
 * "+08:00" and "Z" spellings compare correctly), then lessonId, version, bytes. Ids compare by code
 * unit, not by locale, so the order is the same on every machine.
 */
export function comparePlanItems(a: PlanItemInput, b: PlanItemInput): number {
  if (a.dueDate !== b.dueDate) {
    if (a.dueDate === null) return 1;
    if (b.dueDate === null) return -1;
    return a.dueDate < b.dueDate ? -1 : 1;
  }
  if (a.priority !== b.priority) return a.priority - b.priority;
  const assignedA = instantOf(a.assignedAt);
  const assignedB = instantOf(b.assignedAt);
  if (assignedA !== assignedB) return assignedA - assignedB;
  if (a.lessonId !== b.lessonId) return a.lessonId < b.lessonId ? -1 : 1;
  // Two rows for the same lesson version only come from duplicated input; still, order them.
  return a.version - b.version || a.bytes - b.bytes;
}

/**
 * The service validates requests; this guards the arithmetic, which needs whole byte counts (bits
 * are BigInt-converted) and finite numbers (NaN would make the sort and the loop meaningless).
 */
function assertPlanInput(school: PlanSchool, items: readonly PlanItemInput[]): void {
  const byteCount = (value: number | null, field: string) => {
    if (value !== null && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new RangeError(`${field} must be a non-negative integer, got ${value}`);
    }
  };
  if (!(Number.isFinite(school.downlinkKbps) && school.downlinkKbps >= 0)) {
    throw new RangeError(`downlinkKbps must be a non-negative number, got ${school.downlinkKbps}`);
  }
  byteCount(school.monthlyCapBytes, 'monthlyCapBytes');
  byteCount(school.bytesSentThisMonth, 'bytesSentThisMonth');
  byteCount(school.storageCapacityBytes, 'storageCapacityBytes');
  byteCount(school.heldBytes, 'heldBytes');
  for (const item of items) {
    byteCount(item.bytes, `bytes of ${item.lessonId}`);
    if (!Number.isFinite(item.priority) || !Number.isFinite(item.version)) {
      throw new RangeError(`priority and version of ${item.lessonId} must be numbers`);
    }
  }
}

function instantOf(rfc3339: string): number {
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) throw new RangeError(`invalid assignedAt "${rfc3339}"`);
  return ms;
}

/** The last millisecond of the due date in the school's zone (23:59:59.999 local). */
function endOfDueDate(dueDate: string, zone: IANAZone): number {
  const day = DateTime.fromFormat(dueDate, 'yyyy-MM-dd', { zone });
  if (!day.isValid) throw new RangeError(`invalid dueDate "${dueDate}"`);
  return day.endOf('day').toMillis();
}

/** "2026-11-29T03:12:40Z": arrivals are whole seconds, so the milliseconds are dropped. */
function formatArrival(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function ceilToSecond(ms: number): number {
  return Math.ceil(ms / 1000) * 1000;
}

/**
 * Which lessons reach the school, when, and whether they fit on its terminal. Pure: the same
 * school, items and `now` always give the same plan.
 *
 * Items that do not fit are not sent and take no link time; they are never reported late (their
 * problem is storage, and a late flag would send people looking at the link). Items that cannot
 * arrive (no downlink, a zero cap) are late when they have a due date. Items past the horizon are
 * late when their due date falls before the horizon, since they arrive after it at the earliest.
 * Lateness is judged on the reported, rounded-up arrival.
 */
export function computeDeliveryPlan(
  school: PlanSchool,
  items: PlanItemInput[],
  now: Date,
  /** "lessonId:version" -> epoch ms: items a broadcast brings; they take no unicast link time. */
  broadcast: ReadonlyMap<string, number> = new Map(),
): DeliveryPlan {
  const nowMs = now.getTime();
  if (!Number.isFinite(nowMs)) throw new RangeError('invalid now');
  assertPlanInput(school, items);
  const schedule = buildSchedule(school.windows, school.timezone);
  const zone = schedule.zone;
  const horizonMs = DateTime.fromMillis(nowMs, { zone })
    .plus({ years: PLAN_HORIZON_YEARS })
    .toMillis();
  // Whole bits per second keep the arithmetic exact; sub-bit/s precision means nothing on a link.
  const bitsPerSecond = Math.round(school.downlinkKbps * 1000);
  const unreachable = bitsPerSecond === 0 || school.monthlyCapBytes === 0;
  const link = new LinkSimulator(
    schedule,
    new MonthlyBudget(zone, school.monthlyCapBytes, school.bytesSentThisMonth, nowMs),
    Math.max(1, bitsPerSecond),
    Math.floor(nowMs),
    horizonMs,
  );

  const ordered = [...items].sort(comparePlanItems);
  let plannedBytes = school.heldBytes;
  let allFit = true;
  const planned = ordered.map((item): PlanItem => {
    const deadlineMs = item.dueDate === null ? null : endOfDueDate(item.dueDate, zone);
    const base = {
      lessonId: item.lessonId,
      version: item.version,
      bytes: item.bytes,
      dueDate: item.dueDate,
      priority: item.priority,
    };
    if (plannedBytes + item.bytes > school.storageCapacityBytes) {
      allFit = false;
      return {
        ...base,
        estimatedArrival: null,
        late: false,
        fits: false,
        reasons: ['exceeds_storage'],
      };
    }
    plannedBytes += item.bytes;
    const byBroadcast = broadcast.get(`${item.lessonId}:${item.version}`);
    if (byBroadcast !== undefined) {
      const arrivalMs = ceilToSecond(Math.max(nowMs, byBroadcast));
      const late = deadlineMs !== null && arrivalMs > deadlineMs;
      return {
        ...base,
        estimatedArrival: formatArrival(arrivalMs),
        late,
        fits: true,
        reasons: late ? ['broadcast', 'late'] : ['broadcast'],
      };
    }
    if (unreachable) {
      const late = deadlineMs !== null;
      return {
        ...base,
        estimatedArrival: null,
        late,
        fits: true,
        reasons: late ? ['unreachable', 'late'] : ['unreachable'],
      };
    }
    return {
      ...base,
      fits: true,
      ...transmissionResult(link.send(item.bytes), deadlineMs, horizonMs),
    };
  });

  return {
    storage: { capacityBytes: school.storageCapacityBytes, plannedBytes, fits: allFit },
    items: planned,
  };
}

function transmissionResult(
  outcome: SendOutcome,
  deadlineMs: number | null,
  horizonMs: number,
): Pick<PlanItem, 'estimatedArrival' | 'late' | 'reasons'> {
  const reasons: PlanReason[] = [];
  let estimatedArrival: string | null = null;
  let late: boolean;
  if (outcome.kind === 'beyond_horizon') {
    reasons.push('beyond_horizon');
    late = deadlineMs !== null && deadlineMs < horizonMs;
  } else {
    const arrivalMs = ceilToSecond(outcome.arrivalMs);
    estimatedArrival = formatArrival(arrivalMs);
    late = deadlineMs !== null && arrivalMs > deadlineMs;
  }
  if (outcome.waitedForCap) reasons.push('waits_for_monthly_cap');
  if (late) reasons.push('late');
  return { estimatedArrival, late, reasons };
}
