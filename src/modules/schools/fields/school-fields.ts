import { canonicalLanguage } from '../../../common/validation/domain';
import {
  checkGrades,
  checkTeacherGaps,
  checkWindows,
  isRecord,
  isTimezone,
  normaliseGaps,
  shown,
} from './field-rules';

export {
  GRADE_MAX,
  GRADE_MIN,
  MAX_WINDOWS,
  checkTeacherGaps,
  checkWindows,
  isHHMM,
  isTimezone,
  normaliseGaps,
} from './field-rules';

/**
 * A school's fields and their rules, shared by the JSON API (class-validator decorators call these
 * functions) and the CSV import, so both accept and refuse exactly the same values.
 */

export const DEVICE_HEIGHTS = [240, 360, 480, 720] as const;
export type DeviceHeight = (typeof DEVICE_HEIGHTS)[number];
export const VIDEO_CODECS = ['h264', 'hevc', 'vp9', 'av1'] as const;
export const IMAGE_FORMATS = ['webp', 'jpeg', 'png', 'gif', 'avif'] as const;

export const SCHOOL_CODE = /^[A-Za-z0-9._-]{1,64}$/;
export const SCHOOL_LIMITS = {
  nameLength: 200,
  pupils: 100_000,
  languages: 10,
  downlinkKbps: 10_000_000,
  storageCapacityMb: 100_000_000,
} as const;

/** What API.md promises for an omitted optional field. Copy the arrays before storing them. */
export const SCHOOL_DEFAULTS = {
  languages: ['zh-CN'],
  teacherGaps: [],
  windows: [],
  monthlyCapMb: null,
  broadcastReceiver: false,
  maxVideoHeight: 480,
  videoCodecs: ['h264'],
  imageFormats: ['webp', 'jpeg', 'png'],
} as const;

/** One subject the school has no teacher for, and the grades affected (sorted, distinct, 1-12). */
export interface TeacherGap {
  subject: string;
  grades: number[];
}

/** "HH:MM" in the school's time zone, 00:00-23:59; `end` before `start` crosses midnight. */
export interface ReceiveWindow {
  start: string;
  end: string;
}

export interface SchoolFields {
  code: string;
  name: string;
  pupils: number;
  grades: number[];
  languages: string[];
  teacherGaps: TeacherGap[];
  link: {
    downlinkKbps: number;
    windows: ReceiveWindow[];
    timezone: string;
    monthlyCapMb: number | null;
    broadcastReceiver: boolean;
  };
  storageCapacityMb: number;
  device: { maxVideoHeight: DeviceHeight; videoCodecs: string[]; imageFormats: string[] };
}

/** `field` is the dotted path in the JSON body: `link.windows.0.start`, `teacherGaps.1.subject`. */
export interface FieldProblem {
  field: string;
  message: string;
}

type Add = (field: string, message: string) => void;

// Intl.getCanonicalLocales is the costliest step of a large import while the same few tags repeat
// on every row; bounded so a flood of distinct garbage tags cannot grow it.
const languageCache = new Map<string, string | null>();

function canonicalTag(tag: unknown): string | null {
  if (typeof tag !== 'string') return null;
  let canonical = languageCache.get(tag);
  if (canonical === undefined) {
    canonical = canonicalLanguage(tag);
    if (languageCache.size < 1000) languageCache.set(tag, canonical);
  }
  return canonical;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkInteger(v: unknown, field: string, min: number, max: number, add: Add): void {
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
    add(field, `${field} must be a whole number from ${min} to ${max}, got ${shown(v)}`);
  }
}

/*
 * Names are stored exactly as given: markup and formula-looking text are fine here and escaped on
 * output. Only what the database cannot store faithfully is refused (NUL, unpaired surrogates).
 */
function checkName(v: unknown, add: Add): void {
  if (typeof v !== 'string' || v.trim() === '') {
    add('name', 'name must be non-blank text');
    return;
  }
  const length = [...v].length;
  if (length > SCHOOL_LIMITS.nameLength) {
    add('name', `name must be at most ${SCHOOL_LIMITS.nameLength} characters, got ${length}`);
  }
  if (v.includes('\u0000') || LONE_SURROGATE.test(v)) {
    add('name', 'name must be valid Unicode text without NUL characters');
  }
}

function checkLanguages(v: unknown, add: Add): void {
  if (!Array.isArray(v) || v.length === 0) {
    add('languages', 'languages must be a non-empty list of BCP 47 tags such as zh-CN');
    return;
  }
  if (v.length > SCHOOL_LIMITS.languages) {
    add('languages', `at most ${SCHOOL_LIMITS.languages} languages, got ${v.length}`);
  }
  const seen = new Set<string>();
  v.forEach((tag: unknown, i) => {
    const canonical = canonicalTag(tag);
    if (canonical === null) {
      add(`languages.${i}`, `language ${shown(tag)} must be a BCP 47 tag such as zh-CN or ug`);
    } else if (seen.has(canonical)) {
      add(`languages.${i}`, `language ${canonical} is listed twice`);
    } else {
      seen.add(canonical);
    }
  });
}

function checkSubset(v: unknown, allowed: readonly string[], field: string, add: Add): void {
  if (!Array.isArray(v) || v.length === 0) {
    add(field, `${field} must be a non-empty list drawn from ${allowed.join(', ')}`);
    return;
  }
  const seen = new Set<unknown>();
  v.forEach((item: unknown, i) => {
    if (typeof item !== 'string' || !allowed.includes(item)) {
      add(`${field}.${i}`, `${shown(item)} must be one of ${allowed.join(', ')}`);
    } else if (seen.has(item)) {
      add(`${field}.${i}`, `${item} is listed twice`);
    }
    seen.add(item);
  });
}

/* A gap for a grade the school does not teach would send lessons to pupils who are not there. */
function checkGapsWithinGrades(grades: number[], gaps: TeacherGap[], add: Add): void {
  const taught = new Set(grades);
  gaps.forEach((gap, i) =>
    gap.grades.forEach((g, j) => {
      if (!taught.has(g)) {
        add(
          `teacherGaps.${i}.grades.${j}`,
          `${gap.subject} grade ${g} is not one of the school's grades (${[...taught].sort((a, b) => a - b).join(', ')})`,
        );
      }
    }),
  );
}

/**
 * Every rule for a complete school, in the order of the JSON body; [] when it is valid.
 * The declared type is what callers should pass, but values arrive from JSON and CSV, so each
 * rule also checks the runtime shape rather than trusting it.
 */
export function checkSchoolFields(input: SchoolFields): FieldProblem[] {
  const school = input as unknown as Record<string, unknown>;
  const link = isRecord(school.link) ? school.link : {};
  const device = isRecord(school.device) ? school.device : {};
  const problems: FieldProblem[] = [];
  const add: Add = (field, message) => problems.push({ field, message });

  if (typeof school.code !== 'string' || !SCHOOL_CODE.test(school.code)) {
    add(
      'code',
      `code ${shown(school.code)} must be 1-64 letters, digits, dots, dashes or underscores`,
    );
  }
  checkName(school.name, add);
  checkInteger(school.pupils, 'pupils', 0, SCHOOL_LIMITS.pupils, add);
  const gradeProblems = checkGrades(school.grades, 'grades');
  problems.push(...gradeProblems);
  checkLanguages(school.languages, add);
  const gapProblems = checkTeacherGaps(school.teacherGaps);
  problems.push(...gapProblems);
  if (gradeProblems.length === 0 && gapProblems.length === 0) {
    checkGapsWithinGrades(school.grades as number[], school.teacherGaps as TeacherGap[], add);
  }

  checkInteger(link.downlinkKbps, 'link.downlinkKbps', 0, SCHOOL_LIMITS.downlinkKbps, add);
  problems.push(...checkWindows(link.windows, 'link.windows'));
  if (!isTimezone(link.timezone)) {
    add(
      'link.timezone',
      `timezone ${shown(link.timezone)} must be an IANA time zone name such as Asia/Shanghai, not an offset`,
    );
  }
  // Omitted and null mean the same thing here: no monthly cap.
  if (link.monthlyCapMb !== null && link.monthlyCapMb !== undefined) {
    checkInteger(link.monthlyCapMb, 'link.monthlyCapMb', 0, Number.MAX_SAFE_INTEGER, add);
  }
  if (typeof link.broadcastReceiver !== 'boolean') {
    add('link.broadcastReceiver', 'broadcastReceiver must be true or false');
  }

  checkInteger(
    school.storageCapacityMb,
    'storageCapacityMb',
    0,
    SCHOOL_LIMITS.storageCapacityMb,
    add,
  );
  if (!(DEVICE_HEIGHTS as readonly unknown[]).includes(device.maxVideoHeight)) {
    add(
      'device.maxVideoHeight',
      `maxVideoHeight ${shown(device.maxVideoHeight)} must be one of ${DEVICE_HEIGHTS.join(', ')}`,
    );
  }
  checkSubset(device.videoCodecs, VIDEO_CODECS, 'device.videoCodecs', add);
  checkSubset(device.imageFormats, IMAGE_FORMATS, 'device.imageFormats', add);
  return problems;
}

/**
 * The stored form of a school that passed checkSchoolFields: canonical language tags (zh-cn ->
 * zh-CN), grades sorted, gaps sorted by subject. Text (code, name) is left exactly as given.
 */
export function normaliseSchoolFields(input: SchoolFields): SchoolFields {
  return {
    ...input,
    grades: [...input.grades].sort((a, b) => a - b),
    languages: input.languages.map((tag) => canonicalTag(tag) ?? tag),
    teacherGaps: normaliseGaps(input.teacherGaps),
    link: {
      ...input.link,
      windows: input.link.windows.map((w) => ({ ...w })),
      monthlyCapMb: input.link.monthlyCapMb ?? null,
    },
    device: {
      ...input.device,
      videoCodecs: [...input.device.videoCodecs],
      imageFormats: [...input.device.imageFormats],
    },
  };
}
