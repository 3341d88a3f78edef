import { isGrade, shown } from '../fields/field-rules';
import {
  DeviceHeight,
  ReceiveWindow,
  SCHOOL_DEFAULTS,
  SchoolFields,
  TeacherGap,
  checkSchoolFields,
  normaliseGaps,
  normaliseSchoolFields,
} from '../fields/school-fields';
import { OPTIONAL_COLUMNS, REQUIRED_COLUMNS, SchoolColumn } from './school-header';

export type RowOutcome =
  | { ok: true; regionCode: string; fields: SchoolFields }
  | { ok: false; field: SchoolColumn; reason: 'missing_value' | 'invalid_value'; message: string };

/** Problems are reported in this order, so the same row always gets the same rejection. */
const ORDER: readonly SchoolColumn[] = [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS];

/** JSON paths from checkSchoolFields -> the CSV column the user has to fix. */
const PATH_COLUMNS: [string, SchoolColumn][] = [
  ['link.downlinkKbps', 'downlinkKbps'],
  ['link.windows', 'windows'],
  ['link.timezone', 'timezone'],
  ['link.monthlyCapMb', 'monthlyCapMb'],
  ['link.broadcastReceiver', 'broadcastReceiver'],
  ['device.maxVideoHeight', 'maxVideoHeight'],
];

function columnOf(path: string): SchoolColumn {
  const hit = PATH_COLUMNS.find(([prefix]) => path === prefix || path.startsWith(`${prefix}.`));
  return hit ? hit[1] : (path.split('.')[0] as SchoolColumn);
}

/* Thrown by the cell parsers below and always caught in readSchoolRow; never leaves this file. */
class CellProblem extends Error {
  constructor(
    readonly field: SchoolColumn,
    readonly reason: 'missing_value' | 'invalid_value',
    message: string,
  ) {
    super(message);
  }
}

const DIGITS = /^\d+$/;
const GAP_ITEM = /^([^:]+?)\s*:\s*(\d+)(?:\s*-\s*(\d+))?$/;
const WINDOW_ITEM = /^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/;
const TRUE_WORDS = ['true', '1', 'yes'];
const FALSE_WORDS = ['false', '0', 'no'];

function items(text: string): string[] {
  return text
    .split(';')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function integer(column: SchoolColumn, text: string): number {
  if (!DIGITS.test(text)) {
    throw new CellProblem(
      column,
      'invalid_value',
      `${column} must be a whole number written with digits only, got ${shown(text)}`,
    );
  }
  return Number(text);
}

function grades(text: string): number[] {
  const list = items(text);
  if (list.length === 0) throw new CellProblem('grades', 'missing_value', 'grades is required');
  return list.map((item) => integer('grades', item));
}

/* `english:3-6;music:1`. A subject may appear more than once so grades that are not one run
 * (english:1-2;english:5) can be written; its grades are merged. */
function teacherGaps(text: string): TeacherGap[] {
  const gaps = items(text).map((item): TeacherGap => {
    const match = GAP_ITEM.exec(item);
    const bad = (why: string) => new CellProblem('teacherGaps', 'invalid_value', why);
    if (!match) {
      throw bad(
        `teacher gap ${shown(item)} must be subject:grade or subject:from-to, e.g. english:3-6`,
      );
    }
    const subject = match[1].toLowerCase();
    const from = Number(match[2]);
    const to = match[3] === undefined ? from : Number(match[3]);
    // Checked before expanding, so "english:1-999999999" cannot allocate a billion grades.
    if (!isGrade(from) || !isGrade(to))
      throw bad(`teacher gap ${shown(item)}: grades run from 1 to 12`);
    if (from > to) {
      throw bad(
        `teacher gap ${shown(item)}: write the lower grade first (${subject}:${to}-${from})`,
      );
    }
    return { subject, grades: Array.from({ length: to - from + 1 }, (_, i) => from + i) };
  });
  return normaliseGaps(gaps);
}

/* `22:00-06:00;12:00-13:00`; an hour without its leading zero (6:00, as spreadsheets write it) is padded. */
function windows(text: string): ReceiveWindow[] {
  return items(text).map((item) => {
    const match = WINDOW_ITEM.exec(item);
    if (!match) {
      throw new CellProblem(
        'windows',
        'invalid_value',
        `window ${shown(item)} must be start-end times such as 22:00-06:00`,
      );
    }
    const [, startH, startM, endH, endM] = match;
    return {
      start: `${startH.padStart(2, '0')}:${startM}`,
      end: `${endH.padStart(2, '0')}:${endM}`,
    };
  });
}

function flag(text: string): boolean {
  const word = text.toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  throw new CellProblem(
    'broadcastReceiver',
    'invalid_value',
    `broadcastReceiver must be true or false, got ${shown(text)}`,
  );
}

function videoHeight(text: string): DeviceHeight {
  // "480p" is how people name the height; the number is what is stored and checked.
  return integer('maxVideoHeight', text.replace(/p$/i, '')) as DeviceHeight;
}

/**
 * One data row -> the school it describes, with API.md's defaults for empty optional cells, or the
 * first problem in column order. `cell` gives the raw text under a column (undefined when the file
 * has no such column). Cells are trimmed except `name`, which is stored exactly as given.
 */
export function readSchoolRow(cell: (column: SchoolColumn) => string | undefined): RowOutcome {
  const problems: CellProblem[] = [];
  const text = (column: SchoolColumn) => {
    const raw = cell(column) ?? '';
    return column === 'name' ? raw : raw.trim();
  };
  // A cell that cannot be parsed is recorded and replaced by a stand-in, so the other cells are
  // still read and the first problem in column order wins, whichever rule found it.
  const read = <T>(column: SchoolColumn, parse: (text: string) => T, fallback: T): T => {
    const value = text(column);
    const isRequired = (REQUIRED_COLUMNS as readonly string[]).includes(column);
    try {
      if (value.trim() === '') {
        if (isRequired) throw new CellProblem(column, 'missing_value', `${column} is required`);
        return fallback;
      }
      return parse(value);
    } catch (err) {
      if (!(err instanceof CellProblem)) throw err;
      problems.push(err);
      return fallback;
    }
  };
  const asText = (value: string) => value;

  const fields: SchoolFields = {
    code: read('code', asText, ''),
    name: read('name', asText, ''),
    pupils: read('pupils', (v) => integer('pupils', v), 0),
    grades: read('grades', grades, []),
    languages: read('languages', items, [...SCHOOL_DEFAULTS.languages]),
    teacherGaps: read('teacherGaps', teacherGaps, []),
    link: {
      downlinkKbps: read('downlinkKbps', (v) => integer('downlinkKbps', v), 0),
      windows: read('windows', windows, []),
      timezone: read('timezone', asText, ''),
      monthlyCapMb: read('monthlyCapMb', (v) => integer('monthlyCapMb', v), null),
      broadcastReceiver: read('broadcastReceiver', flag, SCHOOL_DEFAULTS.broadcastReceiver),
    },
    storageCapacityMb: read('storageCapacityMb', (v) => integer('storageCapacityMb', v), 0),
    device: {
      maxVideoHeight: read('maxVideoHeight', videoHeight, SCHOOL_DEFAULTS.maxVideoHeight),
      videoCodecs: [...SCHOOL_DEFAULTS.videoCodecs],
      imageFormats: [...SCHOOL_DEFAULTS.imageFormats],
    },
  };
  const regionCode = read('regionCode', asText, '');

  const broken = new Set(problems.map((p) => p.field));
  for (const problem of checkSchoolFields(fields)) {
    const column = columnOf(problem.field);
    if (!broken.has(column)) {
      problems.push(new CellProblem(column, 'invalid_value', problem.message));
    }
  }
  if (problems.length === 0) return { ok: true, regionCode, fields: normaliseSchoolFields(fields) };

  const first = problems.reduce((a, b) =>
    ORDER.indexOf(b.field) < ORDER.indexOf(a.field) ? b : a,
  );
  return { ok: false, field: first.field, reason: first.reason, message: first.message };
}
