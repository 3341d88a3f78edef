import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { returnedRows } from '../../database/columns';
import type { AssignmentState, AssignmentView } from './assignments.dto';

/** Which schools an assignment targets, always inside the caller's region subtree. */
export type TargetSql =
  | { kind: 'schools'; ids: string[] }
  | { kind: 'region'; path: string }
  | { kind: 'gap'; subject: string; grade: number };

export interface NewAssignments {
  lessonIds: string[];
  courseId: string | null;
  source: 'manual' | 'gap-match';
  dueDate: string | null;
  priority: number;
  userId: string | null;
}

interface Row {
  id: string;
  school_id: string;
  lesson_id: string;
  course_id: string | null;
  source: string;
  reason: string | null;
  score: number | null;
  due_date: string | null;
  priority: number;
  state: AssignmentState;
  created_at: Date;
}

/** Live bundles of the assignment's school that bring its lesson (at any version). */
const LIVE_BUNDLE_SQL = `FROM bundle_school bs JOIN bundle b ON b.id = bs.bundle_id
  WHERE bs.school_id = a.school_id AND bs.superseded_at IS NULL
    AND b.lessons @> jsonb_build_array(jsonb_build_object('lessonId', a.lesson_id))`;

/**
 * The derived state: installed from holdings; failed and delivering from the terminals'
 * deliveries of a live bundle that brings the lesson; packaged once such a bundle is ready.
 */
export const STATE_SQL = `CASE
  WHEN h.version IS NOT NULL AND h.version >= l.published_version THEN 'installed'
  WHEN EXISTS (SELECT 1 ${LIVE_BUNDLE_SQL} AND EXISTS (SELECT 1 FROM delivery d
    WHERE d.bundle_id = b.id AND d.school_id = a.school_id AND d.state = 'failed')) THEN 'failed'
  WHEN a.due_date IS NOT NULL AND a.due_date < (now() AT TIME ZONE s.timezone)::date THEN 'late'
  WHEN EXISTS (SELECT 1 ${LIVE_BUNDLE_SQL} AND EXISTS (SELECT 1 FROM delivery d
    WHERE d.bundle_id = b.id AND d.school_id = a.school_id AND d.state IN ('downloading', 'installed'))) THEN 'delivering'
  WHEN EXISTS (SELECT 1 ${LIVE_BUNDLE_SQL} AND b.state = 'ready') THEN 'packaged'
  ELSE 'pending' END`;

const toView = (r: Row): AssignmentView => ({
  id: r.id,
  schoolId: r.school_id,
  lessonId: r.lesson_id,
  courseId: r.course_id,
  source: r.source,
  reason: r.reason,
  score: r.score,
  dueDate: r.due_date,
  priority: r.priority,
  state: r.state,
  createdAt: r.created_at.toISOString(),
});

@Injectable()
export class AssignmentsRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** SQL selecting the target school ids ($1 = scope path or null), with its parameters. */
  private target(t: TargetSql, scope: string | null): { sql: string; params: unknown[] } {
    const base = `SELECT s.id FROM school s JOIN region r ON r.id = s.region_id
                  WHERE ($1::text IS NULL OR r.path LIKE $1 || '%')`;
    switch (t.kind) {
      case 'schools':
        return { sql: `${base} AND s.id = ANY($2::uuid[])`, params: [scope, t.ids] };
      case 'region':
        return { sql: `${base} AND r.path LIKE $2 || '%'`, params: [scope, t.path] };
      case 'gap':
        return {
          sql: `${base} AND EXISTS (SELECT 1 FROM school_gap g WHERE g.school_id = s.id
                AND g.subject = $2 AND g.grade = $3)`,
          params: [scope, t.subject, t.grade],
        };
    }
  }

  async countTarget(t: TargetSql, scope: string | null): Promise<number> {
    const { sql, params } = this.target(t, scope);
    const [row] = await this.ds.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM (${sql}) x`,
      params,
    );
    return row.n;
  }

  /**
   * Creates the missing (school, lesson) pairs in one statement and records one need-change
   * event per school that got something new; existing live assignments are left as they are.
   */
  async createForTarget(
    t: TargetSql,
    scope: string | null,
    a: NewAssignments,
  ): Promise<{ created: number; pairs: number; schoolIds: string[] }> {
    const { sql, params } = this.target(t, scope);
    const n = params.length;
    const [row] = await this.ds.query<
      { created: number; pairs: number; schools: string[] | null }[]
    >(
      `WITH target AS (${sql}),
       ins AS (
         INSERT INTO assignment (school_id, lesson_id, course_id, source, due_date, priority, created_by)
         SELECT t.id, l.lesson_id, $${n + 2}::uuid, $${n + 3}, $${n + 4}::date, $${n + 5}, $${n + 6}::uuid
         FROM target t CROSS JOIN unnest($${n + 1}::uuid[]) AS l(lesson_id)
         ON CONFLICT (school_id, lesson_id) WHERE revoked_at IS NULL DO NOTHING
         RETURNING school_id),
       ev AS (
         INSERT INTO school_event (school_id, kind, detail)
         SELECT DISTINCT school_id, 'assignment.created', $${n + 7}::jsonb FROM ins
         RETURNING school_id)
       SELECT (SELECT count(*) FROM ins)::int AS created,
              ((SELECT count(*) FROM target) * cardinality($${n + 1}::uuid[]))::int AS pairs,
              (SELECT array_agg(school_id) FROM ev) AS schools`,
      [
        ...params,
        a.lessonIds,
        a.courseId,
        a.source,
        a.dueDate,
        a.priority,
        a.userId,
        JSON.stringify({ lessonIds: a.lessonIds.slice(0, 50), courseId: a.courseId }),
      ],
    );
    return { created: row.created, pairs: row.pairs, schoolIds: row.schools ?? [] };
  }

  async list(
    scope: string | null,
    f: {
      schoolId?: string;
      lessonId?: string;
      state?: AssignmentState;
      offset: number;
      limit: number;
    },
  ): Promise<[AssignmentView[], number]> {
    const where = ['a.revoked_at IS NULL', `($1::text IS NULL OR r.path LIKE $1 || '%')`];
    const params: unknown[] = [scope];
    if (f.schoolId) where.push(`a.school_id = $${params.push(f.schoolId)}`);
    if (f.lessonId) where.push(`a.lesson_id = $${params.push(f.lessonId)}`);
    const inner = `SELECT a.id, a.school_id, a.lesson_id, a.course_id, a.source, a.reason, a.score,
        to_char(a.due_date, 'YYYY-MM-DD') AS due_date, a.priority, a.created_at, ${STATE_SQL} AS state
      FROM assignment a JOIN school s ON s.id = a.school_id JOIN region r ON r.id = s.region_id
      JOIN lesson l ON l.id = a.lesson_id
      LEFT JOIN holding h ON h.school_id = a.school_id AND h.lesson_id = a.lesson_id
      WHERE ${where.join(' AND ')}`;
    const stateFilter = f.state ? `WHERE x.state = $${params.push(f.state)}` : '';
    const rows = await this.ds.query<(Row & { total: number })[]>(
      `SELECT x.*, count(*) OVER ()::int AS total FROM (${inner}) x ${stateFilter}
       ORDER BY x.created_at DESC, x.id LIMIT $${params.push(f.limit)} OFFSET $${params.push(f.offset)}`,
      params,
    );
    return [rows.map(toView), rows[0]?.total ?? 0];
  }

  async findLive(
    id: string,
    scope: string | null,
  ): Promise<{ id: string; schoolId: string } | null> {
    const rows = await this.ds.query<{ id: string; school_id: string }[]>(
      `SELECT a.id, a.school_id FROM assignment a JOIN school s ON s.id = a.school_id
       JOIN region r ON r.id = s.region_id
       WHERE a.id = $1 AND a.revoked_at IS NULL AND ($2::text IS NULL OR r.path LIKE $2 || '%')`,
      [id, scope],
    );
    return rows[0] ? { id: rows[0].id, schoolId: rows[0].school_id } : null;
  }

  /** Revokes and records the change in one transaction; returns the schools affected. */
  async revoke(where: { id?: string; lessonId?: string }): Promise<string[]> {
    return this.ds.transaction(async (em) => {
      const rows = returnedRows<{ school_id: string }>(
        await em.query(
          `UPDATE assignment SET revoked_at = now()
         WHERE revoked_at IS NULL AND ${where.id ? 'id = $1' : 'lesson_id = $1'}
         RETURNING school_id`,
          [where.id ?? where.lessonId],
        ),
      );
      const schools = [...new Set(rows.map((r) => r.school_id))];
      if (schools.length) {
        await em.query(
          `INSERT INTO school_event (school_id, kind, detail) SELECT unnest($1::uuid[]), 'assignment.revoked', $2::jsonb`,
          [schools, JSON.stringify(where)],
        );
      }
      return schools;
    });
  }

  async schoolsAssigned(lessonId: string): Promise<string[]> {
    const rows = await this.ds.query<{ school_id: string }[]>(
      `SELECT DISTINCT school_id FROM assignment WHERE lesson_id = $1 AND revoked_at IS NULL`,
      [lessonId],
    );
    return rows.map((r) => r.school_id);
  }
}
