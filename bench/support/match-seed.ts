import type { Client } from 'pg';

/**
 * A published catalog for gap matching, straight into PostgreSQL: creating 5,000 lessons through
 * the API (upload, publish) would take far longer than the matching it feeds. Each lesson is
 * what publishing leaves behind: version 1 published with one video file, version 2 the draft
 * that starts with the same file. Sizes are realistic (50-300 MB) but the blobs are rows only.
 */

const SUBJECTS: [code: string, zh: string, weight: number][] = [
  ['english', '英语', 22],
  ['music', '音乐', 18],
  ['art', '美术', 16],
  ['pe', '体育', 8],
  ['science', '科学', 8],
  ['it', '信息技术', 6],
  ['calligraphy', '书法', 5],
  ['math', '数学', 9],
  ['chinese', '语文', 8],
];

/** Languages of instruction: mostly Mandarin, some Uyghur, Tibetan, Yi and English. */
const LANGUAGES: [tag: string, weight: number][] = [
  ['zh-CN', 86],
  ['ug', 5],
  ['bo', 4],
  ['ii', 2],
  ['en', 3],
];

const literal = (items: (string | number)[]) =>
  `ARRAY[${items.map((s) => (typeof s === 'number' ? String(s) : `'${s.replace(/'/g, "''")}'`)).join(',')}]`;

/** `list[i]` where i is drawn with the given weights from uniform `r` (an SQL expression). */
function weightedPick(values: string[], weights: number[], r: string): string {
  const total = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  const arms = values.map((v, i) => {
    acc += weights[i];
    return `WHEN ${r} < ${acc / total} THEN '${v}'`;
  });
  return `CASE ${arms.join(' ')} ELSE '${values[values.length - 1]}' END`;
}

export interface CatalogSeed {
  lessons: number;
  courses: number;
  avgLessonMb: number;
  teacherlessShare: number;
  seconds: number;
}

export async function seedPublishedCatalog(
  db: Client,
  options: { lessons: number; courses: number; bureauId: string; createdBy: string | null },
): Promise<CatalogSeed> {
  const started = Date.now();
  const subject = weightedPick(
    SUBJECTS.map((s) => s[0]),
    SUBJECTS.map((s) => s[2]),
    'r.r1',
  );
  const language = weightedPick(
    LANGUAGES.map((l) => l[0]),
    LANGUAGES.map((l) => l[1]),
    'r.r2',
  );
  await db.query('SELECT setseed(0.64)');
  await db.query('BEGIN');
  try {
    await db.query(
      `CREATE TEMP TABLE bench_seed ON COMMIT DROP AS
       WITH r AS MATERIALIZED (
         SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
                1 + floor(random() * 9)::int AS g0, floor(random() * 4)::int AS span
         FROM generate_series(1, $1::int) g)
       SELECT gen_random_uuid() AS id, g, ${subject} AS subject, ${language} AS language,
              ARRAY(SELECT generate_series(g0, least(12, g0 + span))) AS grades,
              r.r3 < 0.35 AS teacherless,
              (52428800 + floor(r.r4 * 262144000))::bigint AS bytes,
              now() - (r.r5 * 400) * interval '1 day' AS published_at
       FROM r`,
      [options.lessons],
    );
    const zh = `(${literal(SUBJECTS.map((s) => s[0]))})`;
    await db.query(
      `INSERT INTO lesson (id, bureau_id, title, description, subject, grades, language,
                           duration_minutes, tags, teacherless_ready, status, draft_version,
                           published_version, search_text, created_by, created_at, updated_at)
       SELECT s.id, $1, t.title, '配套视频与练习单，适合无专任教师的课堂。', s.subject, s.grades,
              s.language, 40, ARRAY['teacherless', 'video'], s.teacherless, 'active', 2, 1,
              lower(t.title || ' 配套视频与练习单，适合无专任教师的课堂。 teacherless video'), $2,
              s.published_at - interval '2 days', s.published_at
       FROM bench_seed s,
            LATERAL (SELECT (${literal(SUBJECTS.map((x) => x[1]))})[array_position(${zh}, s.subject)]
                            || ' ' || s.grades[1] || '-' || s.grades[cardinality(s.grades)]
                            || '年级 第' || (1 + s.g % 40) || '课' AS title) t`,
      [options.bureauId, options.createdBy],
    );
    await db.query(
      `INSERT INTO lesson_version (lesson_id, version, state, published_at, published_by, created_at)
       SELECT id, 1, 'published', published_at, $1::uuid, published_at - interval '2 days' FROM bench_seed
       UNION ALL
       SELECT id, 2, 'draft', NULL, NULL::uuid, published_at FROM bench_seed`,
      [options.createdBy],
    );
    await db.query(
      `INSERT INTO blob (sha256, size, media_type)
       SELECT encode(sha256(convert_to(id::text, 'UTF8')), 'hex'), bytes, 'video/mp4' FROM bench_seed`,
    );
    await db.query(
      `INSERT INTO lesson_file (lesson_id, version, path, blob_sha256, size, media_type)
       SELECT id, v, 'lesson.mp4', encode(sha256(convert_to(id::text, 'UTF8')), 'hex'), bytes, 'video/mp4'
       FROM bench_seed, generate_series(1, 2) v`,
    );
    // Courses: 6-16 lessons of one subject, grade and language each, most in Mandarin.
    await db.query(
      `INSERT INTO course (title, subject, grade, bureau_id, lesson_ids, created_by)
       SELECT c.subject || ' grade ' || c.grade || ' course ' || c.n, c.subject, c.grade, $1, l.ids, $2
       FROM (SELECT n, (${zh})[1 + n % ${SUBJECTS.length}] AS subject,
                    1 + (n / ${SUBJECTS.length}) % 9 AS grade,
                    CASE WHEN n % 10 = 0 THEN 'ug' ELSE 'zh-CN' END AS language,
                    6 + n % 11 AS size
             FROM generate_series(1, $3::int) n) c,
            LATERAL (SELECT array_agg(s.id ORDER BY s.g) AS ids
                     FROM (SELECT id, g FROM bench_seed s
                           WHERE s.subject = c.subject AND s.grades @> ARRAY[c.grade]
                             AND s.language = c.language
                           ORDER BY hashint4(s.g + c.n) LIMIT c.size) s) l
       WHERE l.ids IS NOT NULL`,
      [options.bureauId, options.createdBy, options.courses],
    );
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK');
    throw err;
  }
  for (const table of ['lesson', 'lesson_version', 'lesson_file', 'blob', 'course']) {
    await db.query(`VACUUM ANALYZE ${table}`);
  }
  const [row] = (
    await db.query<{ lessons: number; courses: number; avg_mb: number; teacherless: number }>(
      `SELECT (SELECT count(*)::int FROM lesson WHERE bureau_id = $1) AS lessons,
              (SELECT count(*)::int FROM course WHERE bureau_id = $1) AS courses,
              (SELECT avg(f.size)::float8 / 1048576 FROM lesson_file f JOIN lesson l ON l.id = f.lesson_id
                WHERE l.bureau_id = $1 AND f.version = 1) AS avg_mb,
              (SELECT avg(teacherless_ready::int)::float8 FROM lesson WHERE bureau_id = $1) AS teacherless`,
      [options.bureauId],
    )
  ).rows;
  return {
    lessons: row.lessons,
    courses: row.courses,
    avgLessonMb: Math.round(row.avg_mb),
    teacherlessShare: Math.round(row.teacherless * 100) / 100,
    seconds: (Date.now() - started) / 1000,
  };
}
