import {
  CandidateIndex,
  CatalogCourse,
  CatalogLesson,
  MatchSchool,
  Proposal,
  assignmentsFor,
  matchSchool,
} from './matching';

const MB = 1024 * 1024;

const lesson = (id: string, extra: Partial<CatalogLesson> = {}): CatalogLesson => ({
  id,
  subject: 'music',
  grades: [3],
  language: 'zh-CN',
  teacherlessReady: false,
  publishedAt: Date.UTC(2026, 0, 1),
  bytes: 100 * MB,
  ...extra,
});

const school = (id: string, extra: Partial<MatchSchool> = {}): MatchSchool => ({
  id,
  languages: ['zh-CN'],
  capacityBytes: 10_000 * MB,
  usedBytes: 0,
  gaps: [{ subject: 'music', grade: 3 }],
  covered: new Set(),
  ...extra,
});

describe('CandidateIndex.forGap', () => {
  const lessons = [
    lesson('l-zh-old', { publishedAt: Date.UTC(2025, 0, 1) }),
    lesson('l-zh-ready', { teacherlessReady: true }),
    lesson('l-ug-ready', { language: 'ug', teacherlessReady: true }),
    lesson('l-ug-new', { language: 'ug', publishedAt: Date.UTC(2026, 5, 1) }),
  ];
  const courses: CatalogCourse[] = [
    { id: 'c-zh', subject: 'music', grade: 3, lessonIds: ['l-zh-old', 'l-zh-ready'] },
  ];

  it('ranks by score across the languages, the first language winning ties', () => {
    const index = new CandidateIndex(lessons, courses);
    const ids = (languages: string[]) =>
      index.forGap('music', 3, languages).map((c) => c.courseId ?? c.lessonId);
    expect(ids(['zh-CN', 'ug'])).toEqual([
      'c-zh',
      'l-zh-ready',
      'l-ug-ready',
      'l-ug-new',
      'l-zh-old',
    ]);
    expect(ids(['ug', 'zh-CN'])).toEqual([
      'c-zh',
      'l-ug-ready',
      'l-zh-ready',
      'l-ug-new',
      'l-zh-old',
    ]);
    expect(ids(['ug'])).toEqual(['l-ug-ready', 'l-ug-new']);
    expect(ids(['bo'])).toEqual([]);
    expect(index.forGap('art', 3, ['zh-CN'])).toEqual([]);
  });

  it('ranks each (subject, grade, languages) once and answers the same ranking after', () => {
    const index = new CandidateIndex(lessons, courses);
    const first = index.forGap('music', 3, ['zh-CN', 'ug']);
    const again = index.forGap('music', 3, ['zh-CN', 'ug']);
    expect(again).toBe(first);
    expect(index.forGap('music', 3, ['ug', 'zh-CN'])).not.toBe(first);
    const fresh = new CandidateIndex(lessons, courses).forGap('music', 3, ['zh-CN', 'ug']);
    expect(fresh).toEqual(first);
  });
});

describe('matchSchool', () => {
  it('gives every school with the same profile the same result, shared ranking or not', () => {
    const lessons = Array.from({ length: 40 }, (_, i) =>
      lesson(`l-${String(i).padStart(2, '0')}`, {
        grades: [1 + (i % 6)],
        subject: i % 3 === 0 ? 'art' : 'music',
        teacherlessReady: i % 4 === 0,
        publishedAt: Date.UTC(2026, 0, 1 + i),
        bytes: (50 + i) * MB,
      }),
    );
    const gaps = [
      { subject: 'music', grade: 2 },
      { subject: 'art', grade: 1 },
      { subject: 'music', grade: 5 },
    ];
    const shared = new CandidateIndex(lessons, []);
    const results = ['a', 'b', 'c'].map((id) =>
      matchSchool(shared, school(id, { gaps, capacityBytes: 130 * MB })).map((p) => [
        p.subject,
        p.grade,
        p.candidate.lessonId,
      ]),
    );
    const alone = matchSchool(
      new CandidateIndex(lessons, []),
      school('a', { gaps, capacityBytes: 130 * MB }),
    ).map((p) => [p.subject, p.grade, p.candidate.lessonId]);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(alone).toEqual(results[0]);
    // 130 MB: the best art lesson (l-36, 86 MB, newest ready) fits, then nothing else does.
    expect(results[0]).toEqual([['art', 1, 'l-36']]);
  });
});

describe('assignmentsFor', () => {
  const proposal = (
    subject: string,
    grade: number,
    lessonIds: string[],
    courseId: string | null,
  ): Proposal => ({
    schoolId: 's-1',
    subject,
    grade,
    candidate: {
      lessonIds,
      courseId,
      lessonId: courseId ? null : lessonIds[0],
      language: 'zh-CN',
      bytes: 0,
      score: courseId ? 500 : 400,
      reason: courseId ? 'course' : 'single lesson',
    },
  });

  it('makes one assignment per lesson, each with its gap, reason and score', () => {
    expect(
      assignmentsFor(
        [proposal('music', 3, ['a', 'b'], 'c-1'), proposal('art', 2, ['x'], null)],
        new Set(),
      ),
    ).toEqual([
      {
        schoolId: 's-1',
        lessonId: 'a',
        courseId: 'c-1',
        reason: 'gap music grade 3: course',
        score: 500,
      },
      {
        schoolId: 's-1',
        lessonId: 'b',
        courseId: 'c-1',
        reason: 'gap music grade 3: course',
        score: 500,
      },
      {
        schoolId: 's-1',
        lessonId: 'x',
        courseId: null,
        reason: 'gap art grade 2: single lesson',
        score: 400,
      },
    ]);
  });

  it('leaves out lessons already assigned and keeps the first proposal bringing a lesson', () => {
    const made = assignmentsFor(
      [proposal('music', 3, ['a', 'b', 'c'], 'c-3'), proposal('music', 4, ['c', 'd'], 'c-4')],
      new Set(['b']),
    );
    expect(made.map((m) => [m.lessonId, m.courseId])).toEqual([
      ['a', 'c-3'],
      ['c', 'c-3'],
      ['d', 'c-4'],
    ]);
  });
});
