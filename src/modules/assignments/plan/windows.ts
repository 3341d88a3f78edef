import { IANAZone } from 'luxon';

/** A daily receive window in the school's wall-clock time ("22:00"-"06:00" crosses midnight). */
export interface PlanWindow {
  start: string;
  end: string;
}

/** A half-open interval of UTC epoch milliseconds; `endMs` may be Infinity. */
export interface Span {
  startMs: number;
  endMs: number;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const HHMM = /^(?:([01]\d|2[0-3]):([0-5]\d)|24:00)$/;

/**
 * Minutes after local midnight. "24:00" is accepted as 1440 because schedules are often written
 * "18:00-24:00"; as a start it means the following midnight, which is the same wall-clock instant
 * in a daily schedule.
 */
export function parseHHMM(value: string): number {
  const match = HHMM.exec(value);
  if (!match) throw new RangeError(`invalid window time "${value}", expected HH:MM`);
  if (match[1] === undefined || match[2] === undefined) return 1440;
  return Number(match[1]) * 60 + Number(match[2]);
}

/**
 * A school's receive windows reduced to sorted, disjoint intervals of milliseconds since local
 * midnight, or `always` when they cover the whole day (no windows, a start === end window, or
 * windows that together leave no gap). Build it once per plan: parsing and merging are not free.
 */
export type ReceiveSchedule =
  | { kind: 'always'; zone: IANAZone }
  | { kind: 'daily'; zone: IANAZone; intervals: ReadonlyArray<readonly [number, number]> };

export function buildSchedule(windows: readonly PlanWindow[], timezone: string): ReceiveSchedule {
  // IANAZone.create caches instances and their validity; isValidZone would build a formatter per call.
  const zone = IANAZone.create(timezone);
  if (!zone.isValid) throw new RangeError(`unknown time zone "${timezone}"`);
  const pieces: Array<[number, number]> = [];
  for (const window of windows) {
    const start = parseHHMM(window.start) % 1440;
    const end = parseHHMM(window.end) % 1440;
    if (start === end) return { kind: 'always', zone };
    if (start < end) pieces.push([start, end]);
    else {
      // Crossing midnight: split into the evening and the morning part of the same local day.
      pieces.push([start, 1440]);
      if (end > 0) pieces.push([0, end]);
    }
  }
  if (pieces.length === 0) return { kind: 'always', zone };
  pieces.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of pieces) {
    const last = merged[merged.length - 1];
    // Adjacent windows (06:00-12:00 and 12:00-18:00) merge too: the link never closes between them.
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  const first = merged[0];
  if (merged.length === 1 && first && first[0] === 0 && first[1] === 1440) {
    return { kind: 'always', zone };
  }
  return {
    kind: 'daily',
    zone,
    intervals: merged.map(([s, e]) => [s * MINUTE_MS, e * MINUTE_MS] as const),
  };
}

function offsetMs(zone: IANAZone, atMs: number): number {
  return zone.offset(atMs) * MINUTE_MS;
}

/**
 * The open span under a single, constant UTC offset, as if the zone had no DST: local time is then
 * a straight line, so the daily intervals repeat every 24 h. Returns the span containing `fromMs`
 * (starting at `fromMs`) or the next one.
 */
function spanAtFixedOffset(
  intervals: ReadonlyArray<readonly [number, number]>,
  offset: number,
  fromMs: number,
): Span {
  const local = fromMs + offset;
  const dayStart = Math.floor(local / DAY_MS) * DAY_MS;
  const timeOfDay = local - dayStart;
  const first = intervals[0];
  const last = intervals[intervals.length - 1];
  if (!first || !last) throw new Error('a daily schedule has at least one interval');
  // A window ending at midnight continues into one starting at midnight ("22:00-06:00").
  const endOf = (day: number, end: number): number =>
    end === DAY_MS && first[0] === 0 ? day + DAY_MS + first[1] : day + end;

  for (const [start, end] of intervals) {
    if (timeOfDay < start)
      return { startMs: dayStart + start - offset, endMs: endOf(dayStart, end) - offset };
    if (timeOfDay < end) return { startMs: fromMs, endMs: endOf(dayStart, end) - offset };
  }
  const tomorrow = dayStart + DAY_MS;
  return { startMs: tomorrow + first[0] - offset, endMs: endOf(tomorrow, first[1]) - offset };
}

/**
 * First instant in (fromMs, toMs] whose offset differs from the offset at `fromMs`, or null.
 * Probing only the end assumes at most one offset change within the range; ranges here span at
 * most about two days, and real zones change offset at most twice a year (a few historic
 * exceptions changed twice within days; those would be missed, not looped on).
 */
function offsetChangeIn(zone: IANAZone, fromMs: number, toMs: number): number | null {
  const offset = zone.offset(fromMs);
  if (zone.offset(toMs) === offset) return null;
  let lo = fromMs;
  let hi = toMs;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zone.offset(mid) === offset) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The receive span open at `fromMs` (starting at `fromMs`) or else the next one to open, with
 * wall-clock semantics: the link is open whenever the school's local time of day lies in a window.
 * A spring-forward gap therefore shortens a window and a fall-back repeat lengthens it.
 * `fromMs` must be a whole millisecond.
 */
export function nextOpenSpan(schedule: ReceiveSchedule, fromMs: number): Span {
  if (schedule.kind === 'always') return { startMs: fromMs, endMs: Infinity };
  const { zone, intervals } = schedule;
  let cursor = fromMs;
  // Each pass either returns or moves `cursor` to an offset change, which only happens a finite
  // number of times before the span, so the loop ends.
  for (;;) {
    const span = spanAtFixedOffset(intervals, offsetMs(zone, cursor), cursor);
    const change = offsetChangeIn(zone, cursor, span.endMs);
    if (change === null) return span;
    if (change <= span.startMs) {
      cursor = change;
      continue;
    }
    // The span is open until the offset changes; if the new local time is still inside a window
    // the span carries on (a window spanning the change is one span, not two).
    const rest = nextOpenSpan(schedule, change);
    return { startMs: span.startMs, endMs: rest.startMs === change ? rest.endMs : change };
  }
}

function localTimeOfDay(zone: IANAZone, atMs: number): number {
  const local = atMs + offsetMs(zone, atMs);
  return local - Math.floor(local / DAY_MS) * DAY_MS;
}

function toMs(at: Date): number {
  const ms = at.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid date');
  return ms;
}

/** Whether the link is open at `atMs` (the school's local time of day lies in a window). */
export function isOpenAt(schedule: ReceiveSchedule, atMs: number): boolean {
  if (schedule.kind === 'always') return true;
  const timeOfDay = localTimeOfDay(schedule.zone, atMs);
  return schedule.intervals.some(([start, end]) => timeOfDay >= start && timeOfDay < end);
}

export function isWindowOpen(windows: readonly PlanWindow[], timezone: string, at: Date): boolean {
  return isOpenAt(buildSchedule(windows, timezone), toMs(at));
}

/**
 * The next instant after `at` when the link opens or closes, or null when it never changes
 * (always reachable). Useful for scheduling a wake-up at the next window edge.
 */
export function nextWindowChange(
  windows: readonly PlanWindow[],
  timezone: string,
  at: Date,
): Date | null {
  const schedule = buildSchedule(windows, timezone);
  if (schedule.kind === 'always') return null;
  const atMs = Math.floor(toMs(at));
  const span = nextOpenSpan(schedule, atMs);
  return new Date(span.startMs > atMs ? span.startMs : span.endMs);
}
