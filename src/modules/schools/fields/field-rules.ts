import { IANAZone } from 'luxon';
import { SUBJECTS, isSubject } from '../../../common/validation/domain';
import type { FieldProblem, TeacherGap } from './school-fields';

/**
 * The rules for the structured parts of a school (time zone, receive windows, teacher gaps, grades).
 * Pure functions returning problems rather than throwing, so the JSON API can report every problem
 * at once and the CSV import can turn the first one into a per-row rejection.
 */

export const GRADE_MIN = 1;
export const GRADE_MAX = 12;
export const MAX_WINDOWS = 24;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short, printable rendering of a rejected value for messages (never the whole of a huge input). */
export function shown(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? v);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

export function isGrade(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= GRADE_MIN && (v as number) <= GRADE_MAX;
}

const HHMM = /^(?:[01]\d|2[0-3]):[0-5]\d$/;

export function isHHMM(v: unknown): v is string {
  return typeof v === 'string' && HHMM.test(v);
}

/*
 * Fixed offsets are refused even where the runtime's Intl accepts them (newer engines take "+08:00"):
 * an offset cannot follow daylight-saving changes, and "UTC+8"-style names are easily misread
 * (POSIX reads "GMT+8" as eight hours *behind*). "Etc/GMT-8" stays valid: it is an IANA name.
 */
const OFFSET_LIKE = /^(?:[+\-\u2212]|(?:UTC|GMT|UT|Z)\s*[+\-\u2212\d])/i;
const ZONE_CACHE_LIMIT = 1000;
// Building an Intl.DateTimeFormat costs tens of microseconds; an import checks the same few
// zones tens of thousands of times. Bounded so a flood of garbage names cannot grow it.
const zoneCache = new Map<string, boolean>();

/** An IANA time zone name such as "Asia/Shanghai", "UTC" or "Etc/UTC"; never a fixed offset. */
export function isTimezone(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 64 || v.trim() !== v) return false;
  if (OFFSET_LIKE.test(v)) return false;
  let valid = zoneCache.get(v);
  if (valid === undefined) {
    valid = IANAZone.isValidZone(v);
    if (zoneCache.size < ZONE_CACHE_LIMIT) zoneCache.set(v, valid);
  }
  return valid;
}

function timeProblem(v: unknown, what: 'start' | 'end'): string {
  const hint = v === '24:00' ? ' (write midnight as 00:00)' : '';
  return `${what} ${shown(v)} must be a time "HH:MM" from 00:00 to 23:59${hint}`;
}

/** Receive windows: `[{start, end}]` in the school's time zone; `end < start` crosses midnight. */
export function checkWindows(v: unknown, field = 'link.windows'): FieldProblem[] {
  if (!Array.isArray(v)) {
    return [{ field, message: 'windows must be a list of {start, end} times ("HH:MM")' }];
  }
  const problems: FieldProblem[] = [];
  if (v.length > MAX_WINDOWS) {
    problems.push({ field, message: `at most ${MAX_WINDOWS} windows, got ${v.length}` });
  }
  v.forEach((w: unknown, i) => {
    const at = `${field}.${i}`;
    if (!isRecord(w)) {
      problems.push({ field: at, message: 'a window must be an object {start, end}' });
      return;
    }
    if (!isHHMM(w.start))
      problems.push({ field: `${at}.start`, message: timeProblem(w.start, 'start') });
    if (!isHHMM(w.end)) problems.push({ field: `${at}.end`, message: timeProblem(w.end, 'end') });
    if (isHHMM(w.start) && w.start === w.end) {
      problems.push({
        field: at,
        message: `a window must have a length: ${w.start}-${w.end} starts and ends at the same time (no windows means always reachable)`,
      });
    }
  });
  return problems;
}

/** A non-empty list of distinct grades 1-12. */
export function checkGrades(v: unknown, field: string): FieldProblem[] {
  if (!Array.isArray(v) || v.length === 0) {
    return [
      { field, message: `grades must be a non-empty list of grades ${GRADE_MIN}-${GRADE_MAX}` },
    ];
  }
  const problems: FieldProblem[] = [];
  const seen = new Set<number>();
  v.forEach((g: unknown, i) => {
    if (!isGrade(g)) {
      problems.push({
        field: `${field}.${i}`,
        message: `grade ${shown(g)} must be a whole number from ${GRADE_MIN} to ${GRADE_MAX}`,
      });
    } else if (seen.has(g)) {
      problems.push({ field: `${field}.${i}`, message: `grade ${g} is listed twice` });
    } else {
      seen.add(g);
    }
  });
  return problems;
}

/**
 * Teacher gaps: `[{subject, grades}]`. A subject listed twice is a problem rather than being merged,
 * so a client that sends conflicting entries hears about it instead of getting a silent union.
 */
export function checkTeacherGaps(v: unknown, field = 'teacherGaps'): FieldProblem[] {
  if (!Array.isArray(v)) {
    return [{ field, message: 'teacherGaps must be a list of {subject, grades}' }];
  }
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  v.forEach((gap: unknown, i) => {
    const at = `${field}.${i}`;
    if (!isRecord(gap)) {
      problems.push({ field: at, message: 'a teacher gap must be an object {subject, grades}' });
      return;
    }
    if (!isSubject(gap.subject)) {
      problems.push({
        field: `${at}.subject`,
        message: `subject ${shown(gap.subject)} must be one of ${SUBJECTS.join(', ')} or x-<code>`,
      });
    } else if (seen.has(gap.subject)) {
      problems.push({
        field: `${at}.subject`,
        message: `subject ${gap.subject} is listed twice; give each subject once with all its grades`,
      });
    } else {
      seen.add(gap.subject);
    }
    problems.push(...checkGrades(gap.grades, `${at}.grades`));
  });
  return problems;
}

/** Sorted by subject, each subject once (grades merged), grades sorted and distinct. */
export function normaliseGaps(gaps: TeacherGap[]): TeacherGap[] {
  const bySubject = new Map<string, Set<number>>();
  for (const gap of gaps) {
    const grades = bySubject.get(gap.subject) ?? new Set<number>();
    gap.grades.forEach((g) => grades.add(g));
    bySubject.set(gap.subject, grades);
  }
  return [...bySubject.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([subject, grades]) => ({ subject, grades: [...grades].sort((a, b) => a - b) }));
}
