import type { Client } from 'pg';

/**
 * EXPLAIN (ANALYZE, BUFFERS, WAL) of the heavy statements behind the three figures, on the data
 * the bench left, each inside a transaction that is rolled back. The SQL mirrors
 * MatchingService.apply/loadSchools (src/modules/assignments/matching.service.ts) and
 * AssignmentsRepository.createForTarget (assignments.repository.ts): keep it in step with them.
 */

export interface Explained {
  name: string;
  executionMs: number;
  rows: number | null;
  /** Time per FK trigger, the top plan line, and WAL/buffer lines. */
  highlights: string[];
  plan: string[];
}

async function explain(
  db: Client,
  name: string,
  sql: string,
  values: unknown[],
): Promise<Explained> {
  const { rows } = await db.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, WAL) ${sql}`,
    values,
  );
  const plan = rows.map((r) => r['QUERY PLAN']);
  const text = plan.join('\n');
  return {
    name,
    executionMs: Number(/Execution Time: ([\d.]+)/.exec(text)?.[1] ?? NaN),
    rows: Number(/actual time=[\d.]+\.\.[\d.]+ rows=(\d+)/.exec(plan[0])?.[1] ?? NaN) || null,
    highlights: [
      plan[0],
      plan.find((l) => /Buffers: shared/.test(l)),
      plan.find((l) => /WAL:/.test(l)),
      ...plan.filter((l) => /Trigger|Planning Time|Execution Time/.test(l)),
    ]
      .filter((l): l is string => l !== undefined)
      .map((l) => l.trim()),
    plan,
  };
}

/** Runs `work` in a transaction that is always rolled back, so EXPLAIN ANALYZE changes nothing. */
async function rolledBack<T>(db: Client, work: () => Promise<T>): Promise<T> {
  await db.query('BEGIN');
  try {
    return await work();
  } finally {
    await db.query('ROLLBACK');
  }
}

/** MatchingService.loadSchools for the batch after `after`, 2,000 schools. */
const LOAD_SCHOOLS = `SELECT s.id, s.languages, s.storage_capacity_mb,
    (SELECT array_agg(g.subject || ':' || g.grade) FROM school_gap g WHERE g.school_id = s.id) AS gaps,
    (SELECT array_agg(a.lesson_id) FROM assignment a WHERE a.school_id = s.id AND a.revoked_at IS NULL) AS assigned
  FROM school s JOIN region r ON r.id = s.region_id
  WHERE s.id > $1 AND r.path LIKE ALL($2::text[])
    AND EXISTS (SELECT 1 FROM school_gap g WHERE g.school_id = s.id)
  ORDER BY s.id LIMIT 2000`;

/** MatchingService.apply: one batch of gap-match assignments. */
const APPLY = `INSERT INTO assignment (school_id, lesson_id, course_id, source, reason, score, created_by)
  SELECT x.s, x.l, x.c, 'gap-match', x.r, x.sc, $6::uuid
  FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::real[]) AS x(s, l, c, r, sc)
  ON CONFLICT (school_id, lesson_id) WHERE revoked_at IS NULL DO NOTHING
  RETURNING school_id`;

/** A time-ordered id (UUIDv7 layout: milliseconds first), strictly increasing with `n`. */
const orderedId = (n: string) =>
  `(lpad(to_hex((extract(epoch FROM statement_timestamp()) * 1000)::bigint), 12, '0') || '7'
    || lpad(to_hex(${n}), 19, '0'))::uuid`;

/** The same with time-ordered ids: the primary key grows at its right edge only. */
const APPLY_ORDERED_IDS = `INSERT INTO assignment (id, school_id, lesson_id, course_id, source, reason, score, created_by)
  SELECT ${orderedId('x.n')}, x.s, x.l, x.c, 'gap-match', x.r, x.sc, $6::uuid
  FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::real[]) WITH ORDINALITY AS x(s, l, c, r, sc, n)
  ON CONFLICT (school_id, lesson_id) WHERE revoked_at IS NULL DO NOTHING
  RETURNING school_id`;

/** AssignmentsRepository.createForTarget for a region target ($1 scope, $2 region path). */
const createForTarget = (
  ordered: boolean,
) => `WITH target AS (SELECT s.id FROM school s JOIN region r ON r.id = s.region_id
      WHERE ($1::text IS NULL OR r.path LIKE $1 || '%') AND r.path LIKE $2 || '%'),
  ins AS (
    INSERT INTO assignment (${ordered ? 'id, ' : ''}school_id, lesson_id, course_id, source, due_date, priority, created_by)
    SELECT ${ordered ? `${orderedId('row_number() OVER (ORDER BY t.id, l.lesson_id)')}, ` : ''}t.id, l.lesson_id, $4::uuid, $5, $6::date, $7, $8::uuid
    FROM target t CROSS JOIN unnest($3::uuid[]) AS l(lesson_id)
    ${ordered ? 'ORDER BY t.id, l.lesson_id' : ''}
    ON CONFLICT (school_id, lesson_id) WHERE revoked_at IS NULL DO NOTHING
    RETURNING school_id),
  ev AS (
    INSERT INTO school_event (school_id, kind, detail)
    SELECT DISTINCT school_id, 'assignment.created', $9::jsonb FROM ins
    RETURNING school_id)
  SELECT (SELECT count(*) FROM ins)::int AS created,
         ((SELECT count(*) FROM target) * cardinality($3::uuid[]))::int AS pairs,
         (SELECT array_agg(school_id) FROM ev) AS schools`;

/**
 * Variants priced against the statement as the server sends it: `fk-off` skips the four
 * foreign-key checks (session_replication_role = replica), `ordered-ids` gives rows time-ordered
 * ids (and, for createForTarget, inserts in (school, lesson) order). `as-sent` runs first and
 * last: the second run tells how much of a difference is only a warmer cache.
 */
const VARIANTS = ['as-sent', 'fk-off', 'ordered-ids', 'as-sent (again)'] as const;
type Variant = (typeof VARIANTS)[number];

const label = (v: Variant) =>
  v === 'fk-off'
    ? ', FK checks off'
    : v === 'ordered-ids'
      ? ', time-ordered ids'
      : v === 'as-sent (again)'
        ? ', again'
        : '';

/**
 * The matching batch in the middle of the province (by school id): its gap-match assignments
 * are taken out and inserted again exactly as apply() sends them.
 */
async function explainApply(db: Client, provincePath: string): Promise<Explained[]> {
  const { rows: mid } = await db.query<{ id: string }>(
    `SELECT s.id FROM school s JOIN region r ON r.id = s.region_id WHERE r.path LIKE $1
     ORDER BY s.id OFFSET (SELECT count(*) / 2 FROM school) LIMIT 1`,
    [`${provincePath}%`],
  );
  if (!mid[0]) return [];
  const out: Explained[] = [];
  for (const variant of VARIANTS) {
    out.push(
      await rolledBack(db, async () => {
        const { rows } = await db.query<{
          school_id: string;
          lesson_id: string;
          course_id: string | null;
          reason: string;
          score: number;
          created_by: string;
        }>(
          `DELETE FROM assignment a
           USING (SELECT s.id FROM school s WHERE s.id >= $1 ORDER BY s.id LIMIT 2000) b
           WHERE a.school_id = b.id AND a.source = 'gap-match' AND a.revoked_at IS NULL
           RETURNING a.school_id, a.lesson_id, a.course_id, a.reason, a.score, a.created_by`,
          [mid[0].id],
        );
        rows.sort((a, b) => (a.school_id === b.school_id ? 0 : a.school_id < b.school_id ? -1 : 1));
        if (variant === 'fk-off') await db.query(`SET LOCAL session_replication_role = replica`);
        return explain(
          db,
          `matching apply(): one batch, ${rows.length} assignments${label(variant)}`,
          variant === 'ordered-ids' ? APPLY_ORDERED_IDS : APPLY,
          [
            rows.map((r) => r.school_id),
            rows.map((r) => r.lesson_id),
            rows.map((r) => r.course_id),
            rows.map((r) => r.reason),
            rows.map((r) => r.score),
            rows[0]?.created_by ?? null,
          ],
        );
      }),
    );
  }
  return out;
}

export async function explainHeavyStatements(
  db: Client,
  options: {
    matchProvincePath: string;
    assignProvincePath: string;
    assignScopePath: string | null;
    lessonCount: number;
    /** The measured course's lessons: already assigned there, so left out. */
    excludeLessonIds: string[];
    userId: string;
  },
): Promise<Explained[]> {
  const out: Explained[] = [];
  // Matching has just added millions of rows: plan with their statistics, as autovacuum would.
  await db.query('ANALYZE assignment');
  const paths = [`${options.matchProvincePath}%`];
  const { rows: half } = await db.query<{ id: string }>(
    `SELECT id FROM school ORDER BY id OFFSET (SELECT count(*) / 2 FROM school) LIMIT 1`,
  );
  out.push(
    await explain(db, 'matching loadSchools(): first batch', LOAD_SCHOOLS, [
      '00000000-0000-0000-0000-000000000000',
      paths,
    ]),
  );
  out.push(
    await explain(db, 'matching loadSchools(): middle batch', LOAD_SCHOOLS, [half[0].id, paths]),
  );
  out.push(...(await explainApply(db, options.matchProvincePath)));
  // Other published lessons than the measured course's, so every pair is new, as it was then.
  const { rows: lessons } = await db.query<{ id: string }>(
    `SELECT id FROM lesson WHERE published_version IS NOT NULL AND status = 'active'
       AND id <> ALL($2::uuid[])
     ORDER BY id LIMIT $1`,
    [options.lessonCount, options.excludeLessonIds],
  );
  const ids = lessons.map((l) => l.id);
  for (const variant of VARIANTS) {
    out.push(
      await rolledBack(db, async () => {
        if (variant === 'fk-off') await db.query(`SET LOCAL session_replication_role = replica`);
        return explain(
          db,
          `assign createForTarget(): ${ids.length} lessons x the assign province${label(variant)}`,
          createForTarget(variant === 'ordered-ids'),
          [
            options.assignScopePath,
            options.assignProvincePath,
            ids,
            null,
            'manual',
            null,
            5,
            options.userId,
            JSON.stringify({ lessonIds: ids, courseId: null }),
          ],
        );
      }),
    );
  }
  return out;
}

export function printExplained(explained: Explained[]): void {
  console.log('\nEXPLAIN (ANALYZE, BUFFERS, WAL) of the heavy statements, rolled back:');
  for (const e of explained) {
    console.log(`\n  [${e.name}] execution ${e.executionMs.toFixed(0)} ms`);
    for (const line of e.highlights) console.log(`    ${line}`);
  }
}
