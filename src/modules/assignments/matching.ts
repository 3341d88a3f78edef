/**
 * Teacher-gap matching, the pure part: given what the catalog offers and one school, which lesson
 * or course fills each of its gaps. Same inputs, same result: every tie is broken by id.
 */
export interface CatalogLesson {
  id: string;
  subject: string;
  grades: number[];
  language: string;
  teacherlessReady: boolean;
  publishedAt: number;
  bytes: number;
}

export interface CatalogCourse {
  id: string;
  subject: string;
  grade: number;
  lessonIds: string[];
}

export interface Candidate {
  lessonIds: string[];
  courseId: string | null;
  lessonId: string | null;
  language: string;
  bytes: number;
  score: number;
  reason: string;
}

export interface MatchSchool {
  id: string;
  languages: string[];
  capacityBytes: number;
  usedBytes: number;
  gaps: { subject: string; grade: number }[];
  /** (subject, grade) pairs already covered by a live assignment. */
  covered: Set<string>;
}

export interface Proposal {
  schoolId: string;
  subject: string;
  grade: number;
  candidate: Candidate;
}

export const gapKey = (subject: string, grade: number) => `${subject}:${grade}`;

/** Ranked candidates per (subject, grade, language), best first. */
export class CandidateIndex {
  private readonly byKey = new Map<string, Candidate[]>();
  private readonly ranked = new Map<string, Candidate[]>();
  readonly lessons = new Map<string, CatalogLesson>();

  constructor(lessons: CatalogLesson[], courses: CatalogCourse[]) {
    for (const l of lessons) this.lessons.set(l.id, l);
    const newest = Math.max(1, ...lessons.map((l) => l.publishedAt));
    const oldest = Math.min(newest - 1, ...lessons.map((l) => l.publishedAt));
    const recency = (t: number) => (t - oldest) / (newest - oldest);
    const push = (key: string, c: Candidate) => {
      const list = this.byKey.get(key) ?? [];
      list.push(c);
      this.byKey.set(key, list);
    };
    for (const course of courses) {
      const byLanguage = new Map<string, CatalogLesson[]>();
      for (const id of course.lessonIds) {
        const l = this.lessons.get(id);
        if (!l) continue;
        byLanguage.set(l.language, [...(byLanguage.get(l.language) ?? []), l]);
      }
      for (const [language, ls] of byLanguage) {
        const teacherless = ls.filter((l) => l.teacherlessReady).length / ls.length;
        const completeness = ls.length / course.lessonIds.length;
        const score =
          400 * teacherless +
          200 * completeness +
          Math.min(ls.length, 50) * 2 +
          50 * recency(Math.max(...ls.map((l) => l.publishedAt)));
        push(gapKey(course.subject, course.grade) + `@${language}`, {
          lessonIds: ls.map((l) => l.id),
          courseId: course.id,
          lessonId: null,
          language,
          bytes: ls.reduce((n, l) => n + l.bytes, 0),
          score: Math.round(score * 100) / 100,
          reason: `course of ${ls.length}/${course.lessonIds.length} published lessons, ${Math.round(teacherless * 100)}% teacherless-ready`,
        });
      }
    }
    for (const l of lessons) {
      for (const grade of l.grades) {
        const score = 400 * (l.teacherlessReady ? 1 : 0) + 50 * recency(l.publishedAt);
        push(gapKey(l.subject, grade) + `@${l.language}`, {
          lessonIds: [l.id],
          courseId: null,
          lessonId: l.id,
          language: l.language,
          bytes: l.bytes,
          score: Math.round(score * 100) / 100,
          reason: `single lesson${l.teacherlessReady ? ', teacherless-ready' : ''}`,
        });
      }
    }
    for (const list of this.byKey.values()) {
      list.sort(
        (a, b) =>
          b.score - a.score ||
          (a.courseId ?? a.lessonId ?? '').localeCompare(b.courseId ?? b.lessonId ?? '', 'en'),
      );
    }
  }

  /**
   * Candidates for a gap in any of the school's languages, its first language preferred on ties.
   * Thousands of schools share a (subject, grade, languages) key, so each ranking is made once;
   * the list returned is shared and must not be changed.
   */
  forGap(subject: string, grade: number, languages: readonly string[]): readonly Candidate[] {
    const key = `${gapKey(subject, grade)}@${languages.join(',')}`;
    let ranked = this.ranked.get(key);
    if (!ranked) {
      const all = languages.flatMap((language, rank) =>
        (this.byKey.get(`${gapKey(subject, grade)}@${language}`) ?? []).map((c) => ({ c, rank })),
      );
      all.sort((a, b) => b.c.score - a.c.score || a.rank - b.rank);
      ranked = all.map((x) => x.c);
      this.ranked.set(key, ranked);
    }
    return ranked;
  }
}

/** The best fitting candidate for each uncovered gap, never beyond the school's storage. */
export function matchSchool(index: CandidateIndex, school: MatchSchool): Proposal[] {
  let free = school.capacityBytes - school.usedBytes;
  const proposals: Proposal[] = [];
  const gaps = [...school.gaps].sort(
    (a, b) => a.subject.localeCompare(b.subject, 'en') || a.grade - b.grade,
  );
  const chosen = new Set<string>();
  for (const gap of gaps) {
    if (school.covered.has(gapKey(gap.subject, gap.grade))) continue;
    for (const candidate of index.forGap(gap.subject, gap.grade, school.languages)) {
      // Lessons already chosen for another gap cost nothing more.
      const extra = candidate.lessonIds
        .filter((id) => !chosen.has(id))
        .reduce((n, id) => n + (index.lessons.get(id)?.bytes ?? 0), 0);
      if (extra > free) continue;
      free -= extra;
      candidate.lessonIds.forEach((id) => chosen.add(id));
      proposals.push({ schoolId: school.id, subject: gap.subject, grade: gap.grade, candidate });
      break;
    }
  }
  return proposals;
}

/** One (school, lesson) assignment that applying a proposal makes. */
export interface ProposedAssignment {
  schoolId: string;
  lessonId: string;
  courseId: string | null;
  reason: string;
  score: number;
}

/**
 * The assignments applying one school's proposals creates: one per lesson of each candidate,
 * leaving out lessons the school already has a live assignment for and lessons an earlier
 * proposal already brings (the first one is kept, with its reason and score).
 */
export function assignmentsFor(
  proposals: readonly Proposal[],
  assigned: ReadonlySet<string>,
): ProposedAssignment[] {
  const made = new Set<string>();
  const out: ProposedAssignment[] = [];
  for (const p of proposals) {
    const reason = `gap ${p.subject} grade ${p.grade}: ${p.candidate.reason}`;
    for (const lessonId of p.candidate.lessonIds) {
      if (assigned.has(lessonId) || made.has(`${p.schoolId}/${lessonId}`)) continue;
      made.add(`${p.schoolId}/${lessonId}`);
      out.push({
        schoolId: p.schoolId,
        lessonId,
        courseId: p.candidate.courseId,
        reason,
        score: p.candidate.score,
      });
    }
  }
  return out;
}
