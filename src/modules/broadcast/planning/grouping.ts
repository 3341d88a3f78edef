import { createHash } from 'node:crypto';
import { Decision, decide } from './cost';

export interface NeedFile {
  sha256: string;
  size: number;
  mediaType: string;
  targets: { lessonId: string; version: number; path: string }[];
}

/** One lesson version a school still needs, with the files (for its device profile) it lacks. */
export interface SchoolLessonNeed {
  lessonId: string;
  version: number;
  /** YYYY-MM-DD or null. */
  dueDate: string | null;
  files: NeedFile[];
}

export interface SchoolNeed {
  schoolId: string;
  /** Repair overhead planned for the school's region. */
  overhead: number;
  lessons: SchoolLessonNeed[];
}

/** The same lesson version in the same bytes, needed by several schools. */
export interface BroadcastItem {
  lessonId: string;
  version: number;
  /** Hash of the files' sha256s: the same lesson rendered for another device profile differs. */
  filesKey: string;
  files: NeedFile[];
  bytes: number;
  schoolIds: string[];
  dueDate: string | null;
  overhead: number;
  decision: Decision;
}

/** Broadcast items that go to exactly the same schools travel in one bundle. */
export interface BroadcastGroup {
  schoolIds: string[];
  items: BroadcastItem[];
  dueDate: string | null;
  overhead: number;
}

export interface GroupingOptions {
  cycles: number;
  repairFraction: number;
  minSchools: number;
}

const earlier = (a: string | null, b: string | null) =>
  a === null ? b : b === null ? a : a < b ? a : b;

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Groups what broadcast-capable schools need by (lesson, version, bytes), decides per item whether
 * broadcast or unicast costs fewer satellite bytes, and gathers the broadcast items by audience.
 * Pure and deterministic: the same needs give the same items, decisions and groups in the same order.
 */
export function planBroadcast(
  needs: SchoolNeed[],
  options: GroupingOptions,
): { items: BroadcastItem[]; groups: BroadcastGroup[] } {
  const byKey = new Map<string, Omit<BroadcastItem, 'decision' | 'bytes'>>();
  for (const need of needs) {
    for (const lesson of need.lessons) {
      const files = [...lesson.files].sort((a, b) => byCodeUnit(a.sha256, b.sha256));
      const filesKey = createHash('sha256')
        .update(files.map((f) => `${f.sha256}:${f.size}`).join(','))
        .digest('hex')
        .slice(0, 32);
      const key = `${lesson.lessonId}:${lesson.version}:${filesKey}`;
      const item = byKey.get(key) ?? {
        lessonId: lesson.lessonId,
        version: lesson.version,
        filesKey,
        files,
        schoolIds: [],
        dueDate: lesson.dueDate,
        overhead: need.overhead,
      };
      if (!item.schoolIds.includes(need.schoolId)) item.schoolIds.push(need.schoolId);
      item.dueDate = earlier(item.dueDate, lesson.dueDate);
      item.overhead = Math.max(item.overhead, need.overhead);
      byKey.set(key, item);
    }
  }
  const items: BroadcastItem[] = [...byKey.entries()]
    .sort(([a], [b]) => byCodeUnit(a, b))
    .map(([, item]) => {
      const bytes = item.files.reduce((n, f) => n + f.size, 0);
      const schoolIds = [...item.schoolIds].sort(byCodeUnit);
      return {
        ...item,
        schoolIds,
        bytes,
        decision: decide({
          bytes,
          schools: schoolIds.length,
          overhead: item.overhead,
          cycles: options.cycles,
          repairFraction: options.repairFraction,
          minSchools: options.minSchools,
        }),
      };
    });

  const groups = new Map<string, BroadcastGroup>();
  for (const item of items.filter((i) => i.decision.via === 'broadcast')) {
    const key = item.schoolIds.join(',');
    const group = groups.get(key) ?? {
      schoolIds: item.schoolIds,
      items: [],
      dueDate: item.dueDate,
      overhead: item.overhead,
    };
    group.items.push(item);
    group.dueDate = earlier(group.dueDate, item.dueDate);
    group.overhead = Math.max(group.overhead, item.overhead);
    groups.set(key, group);
  }
  return { items, groups: [...groups.values()] };
}

/** The files of a group, once each, targets merged, as a bundle plan lists them (no deltas). */
export function groupFiles(group: BroadcastGroup): NeedFile[] {
  const files = new Map<string, NeedFile>();
  for (const item of group.items) {
    for (const f of item.files) {
      const entry = files.get(f.sha256) ?? { ...f, targets: [] };
      for (const t of f.targets) {
        if (t.lessonId !== item.lessonId || t.version !== item.version) continue;
        if (!entry.targets.some((x) => x.lessonId === t.lessonId && x.path === t.path)) {
          entry.targets.push(t);
        }
      }
      files.set(f.sha256, entry);
    }
  }
  return [...files.values()].sort((a, b) => byCodeUnit(a.sha256, b.sha256));
}
