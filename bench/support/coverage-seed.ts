import type { Client } from 'pg';

export interface NationalShape {
  provinces: number;
  prefecturesEach: number;
  countiesEach: number;
  schools: number;
  lessons: number;
  assignments: number;
}

export const NATIONAL: NationalShape = {
  provinces: 8,
  prefecturesEach: 10,
  countiesEach: 10,
  schools: 64_000,
  lessons: 10_000,
  assignments: 2_000_000,
};

const SUBJECTS = [
  'english',
  'music',
  'art',
  'math',
  'chinese',
  'science',
  'pe',
  'ethics',
  'it',
  'labour',
  'calligraphy',
  'other',
];

/**
 * Seeds a national-scale world straight into PostgreSQL with set-based statements
 * (generate_series): a province/prefecture/county tree, schools with three teacher gaps each,
 * published lessons with files, assignments (a fifth due in the past), holdings for about 60 %
 * of them, one built bundle per school and terminals (most seen in the last 24 h). Every school
 * is then queued as changed, so the server's refresh job rolls them all up.
 * Deterministic for a shape; ids are random.
 */
export async function seedNational(
  db: Client,
  shape: NationalShape,
  bureauId: string,
  log: (step: string, ms: number) => void,
): Promise<void> {
  const step = async (name: string, sql: string, params: unknown[] = []) => {
    const started = Date.now();
    await db.query(sql, params);
    log(name, Date.now() - started);
  };
  // A bulk load: foreign-key and coverage triggers are off for this session (every reference is
  // made by construction), and every school is queued for the rollup once at the end.
  await db.query(`SET session_replication_role = replica`);
  const counties = shape.provinces * shape.prefecturesEach * shape.countiesEach;
  const perCounty = Math.ceil(shape.schools / counties);

  await step(
    'regions',
    `WITH p AS (
       INSERT INTO region (id, parent_id, level, code, name, path)
       SELECT id, NULL, 'province', 'NB-' || lpad(i::text, 2, '0'), '基准省 ' || i, '/' || id || '/'
       FROM (SELECT gen_random_uuid() AS id, i FROM generate_series(1, $1) i) x
       RETURNING id, code, path),
     f AS (
       INSERT INTO region (id, parent_id, level, code, name, path)
       SELECT x.id, p.id, 'prefecture', p.code || '-' || lpad(x.j::text, 2, '0'), '基准市 ' || x.j,
              p.path || x.id || '/'
       FROM p CROSS JOIN LATERAL (
         SELECT gen_random_uuid() AS id, j, p.id AS pid FROM generate_series(1, $2) j) x
       RETURNING id, code, path)
     INSERT INTO region (id, parent_id, level, code, name, path)
     SELECT x.id, f.id, 'county', f.code || '-' || lpad(x.k::text, 2, '0'), '基准县 ' || x.k,
            f.path || x.id || '/'
     FROM f CROSS JOIN LATERAL (
       SELECT gen_random_uuid() AS id, k, f.id AS fid FROM generate_series(1, $3) k) x`,
    [shape.provinces, shape.prefecturesEach, shape.countiesEach],
  );
  await db.query(`DROP TABLE IF EXISTS bench_county, bench_school, bench_lesson`);
  await db.query(
    `CREATE TABLE bench_county AS SELECT id, (row_number() OVER (ORDER BY code) - 1)::int AS idx
     FROM region WHERE level = 'county' AND code LIKE 'NB-%'`,
  );
  await db.query(`CREATE UNIQUE INDEX ON bench_county (idx)`);

  await step(
    'schools and gaps',
    `WITH s AS (
       INSERT INTO school (code, region_id, name, pupils, grades, languages, teacher_gaps,
         downlink_kbps, windows, timezone, storage_capacity_mb, search_text, need_version,
         planned_need_version)
       SELECT 'NB-S' || lpad(g::text, 6, '0'), c.id, '基准学校 ' || g, 20 + (g * 37) % 400,
              '{1,2,3,4,5,6}', '{zh-CN}',
              jsonb_build_array(
                jsonb_build_object('subject', 'english', 'grades', jsonb_build_array(1 + g % 6)),
                jsonb_build_object('subject', 'music', 'grades', jsonb_build_array(1 + (g + 1) % 6)),
                jsonb_build_object('subject', 'art', 'grades', jsonb_build_array(1 + (g + 2) % 6))),
              2000, '[]', 'Asia/Shanghai', 64000, 'nb-s' || g, 1, 1
       FROM generate_series(0, $1 - 1) g JOIN bench_county c ON c.idx = g / $2
       RETURNING id, code)
     INSERT INTO school_gap (school_id, subject, grade)
     SELECT s.id, x.subject, 1 + (substr(s.code, 5)::int + x.k) % 6
     FROM s CROSS JOIN (VALUES ('english', 0), ('music', 1), ('art', 2)) AS x(subject, k)`,
    [shape.schools, perCounty],
  );
  await db.query(
    `CREATE TABLE bench_school AS SELECT id, substr(code, 5)::int AS idx FROM school WHERE code LIKE 'NB-S%'`,
  );
  await db.query(`CREATE UNIQUE INDEX ON bench_school (idx)`);

  await step(
    'lessons, versions, files',
    `WITH l AS (
       INSERT INTO lesson (bureau_id, title, subject, grades, language, draft_version,
         published_version, search_text)
       SELECT $1::uuid, '基准课 ' || i, ($3::text[])[1 + i % 12], ARRAY[1 + (i / 12) % 6], 'zh-CN', 2, 1,
              'nb lesson ' || i
       FROM generate_series(0, $2 - 1) i
       RETURNING id, title),
     v AS (
       INSERT INTO lesson_version (lesson_id, version, state, published_at)
       SELECT id, 1, 'published', now() FROM l UNION ALL SELECT id, 2, 'draft', NULL FROM l
       RETURNING lesson_id),
     b AS (
       INSERT INTO blob (sha256, size, media_type)
       SELECT md5(l.id::text || f.path) || md5(f.path || l.id::text),
              CASE WHEN f.path = 'lecture.mp4'
                   THEN 20000000 + (hashtext(l.id::text) & 127) * 1000000
                   ELSE 500000 + (hashtext(l.id::text) & 7) * 250000 END,
              f.media FROM l CROSS JOIN (VALUES ('lecture.mp4', 'video/mp4'),
                                             ('slides.pdf', 'application/pdf')) AS f(path, media)
       RETURNING sha256, size, media_type),
     lt AS (SELECT l.id, f.path, md5(l.id::text || f.path) || md5(f.path || l.id::text) AS sha
            FROM l CROSS JOIN (VALUES ('lecture.mp4'), ('slides.pdf')) AS f(path))
     INSERT INTO lesson_file (lesson_id, version, path, blob_sha256, size, media_type)
     SELECT lt.id, v1.version, lt.path, lt.sha, b.size, b.media_type
     FROM lt JOIN b ON b.sha256 = lt.sha CROSS JOIN (VALUES (1), (2)) AS v1(version)
     WHERE (SELECT count(*) FROM v) > 0`,
    [bureauId, shape.lessons, SUBJECTS],
  );
  await db.query(
    `CREATE TABLE bench_lesson AS
     SELECT id, substr(title, 5)::int AS idx FROM lesson WHERE title LIKE '基准课 %'`,
  );
  await db.query(`CREATE UNIQUE INDEX ON bench_lesson (idx)`);

  // School i gets lessons (i * 31 + k * 7919) mod L for k = 0, 1, ...: distinct for one school.
  await step(
    'assignments',
    `INSERT INTO assignment (school_id, lesson_id, source, due_date, priority)
     SELECT s.id, l.id, 'gap-match',
            CASE WHEN g % 5 = 0 THEN current_date - 3 ELSE current_date + 30 END, 5
     FROM generate_series(0, $1 - 1) g
     JOIN bench_school s ON s.idx = g % $2
     JOIN bench_lesson l ON l.idx = ((g % $2)::bigint * 31 + (g / $2)::bigint * 7919) % $3`,
    [shape.assignments, shape.schools, shape.lessons],
  );
  await step(
    'holdings',
    `INSERT INTO holding (school_id, lesson_id, version, bytes)
     SELECT a.school_id, a.lesson_id, 1, 0 FROM assignment a
     WHERE (hashtext(a.id::text) & 1023) < 614`,
  );
  await step(
    'bundles',
    `WITH b AS (
       INSERT INTO bundle (id, audience_type, audience_id, state, plan, lessons, source_bytes,
         bundle_bytes, sha256)
       SELECT gen_random_uuid(), 'school', s.id::text, 'ready',
              jsonb_build_object('format', 'classcast-bundle/1', 'lessons', '[]'::jsonb,
                'files', x.files, 'zstdLevel', 19),
              '[]', (x.src * 0.7)::bigint, (x.src * 0.62)::bigint, md5(s.id::text) || md5(s.id::text)
       FROM bench_school s CROSS JOIN LATERAL (
         SELECT jsonb_agg(jsonb_build_object('sha256', f.blob_sha256, 'size', (f.size * 0.7)::bigint,
                  'mediaType', f.media_type, 'targets', jsonb_build_array(jsonb_build_object(
                    'lessonId', f.lesson_id, 'version', 1, 'path', f.path)))) AS files,
                coalesce(sum(f.size), 0) AS src
         FROM (SELECT h.lesson_id FROM holding h WHERE h.school_id = s.id LIMIT 3) hl
         JOIN lesson_file f ON f.lesson_id = hl.lesson_id AND f.version = 1) x
       WHERE x.files IS NOT NULL
       RETURNING id, audience_id)
     INSERT INTO bundle_school (bundle_id, school_id, need_version)
     SELECT id, audience_id::uuid, 1 FROM b`,
  );
  await step(
    'terminals',
    `INSERT INTO terminal (school_id, name, token_hash, agent_version, last_seen_at)
     SELECT id, 'box', decode(md5(id::text) || md5(id::text || 't'), 'hex'), '1.0.0',
            now() - ((idx::bigint * 7919) % (30 * 60)) * interval '1 minute'
     FROM bench_school WHERE idx % 33 <> 0`,
  );
  await db.query(`SET session_replication_role = DEFAULT`);
  await step(
    'queue schools for the rollup',
    `INSERT INTO coverage_dirty (school_id) SELECT id FROM school`,
  );
  await step('analyze', `ANALYZE`);
}
