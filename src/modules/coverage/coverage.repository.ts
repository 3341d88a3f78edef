import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { FIGURE_COLUMNS } from './coverage-columns';

/** The figures every coverage row carries, as stored (bigint columns arrive as strings). */
export type FigureRow = Record<(typeof FIGURE_COLUMNS)[number], string>;

const SUMS = FIGURE_COLUMNS.map((c) => `coalesce(sum(cr.${c}), 0)::text AS ${c}`).join(', ');
const FIGURES = FIGURE_COLUMNS.map((c) => `coalesce(cr.${c}, 0)::text AS ${c}`).join(', ');

export interface RegionFigureRow extends FigureRow {
  id: string;
  code: string;
  name: string;
  level: string;
}

export interface SubjectRow {
  subject: string;
  grade: number;
  gaps: string;
  covered: string;
  installed: string;
}

export interface SchoolRow {
  school_id: string;
  code: string;
  name: string;
  region_id: string;
  region_code: string;
  region_name: string;
  pupils: number;
  terminals_total: number;
  terminals_seen: number;
  last_seen_at: Date | null;
  gaps_total: number;
  gaps_covered: number;
  assignments_total: number;
  installed: number;
  pending: number;
  late: number;
  failed: number;
  bytes_source: string;
  bytes_sent: string;
  bytes_saved: string;
  bytes_broadcast: string;
  bytes_unicast: string;
  bytes_saved_broadcast: string;
}

export type SchoolStatus = 'stale' | 'late' | 'uncovered';

/** Predicates matching the partial indexes of coverage_school exactly. */
const STATUS_SQL: Record<SchoolStatus, string> = {
  stale: 'cs.terminals_seen = 0',
  late: 'cs.late > 0',
  uncovered: 'cs.gaps_covered < cs.gaps_total',
};
const STATUS_COUNT: Record<SchoolStatus, keyof FigureRow> = {
  stale: 'stale_schools',
  late: 'late_schools',
  uncovered: 'uncovered_schools',
};

/** Where a coverage question is asked: one region's subtree, or every root (admins). */
export type Scope = { kind: 'region'; id: string; path: string } | { kind: 'national' };

/** Reads of the rollups only: every query touches a handful of rows or one index range. */
@Injectable()
export class CoverageRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async asOf(): Promise<Date | null> {
    const [row] = await this.ds.query<{ as_of: Date | null }[]>(
      `SELECT as_of FROM coverage_state WHERE id = 1`,
    );
    return row?.as_of ?? null;
  }

  async figures(scope: Scope): Promise<FigureRow> {
    const [row] =
      scope.kind === 'region'
        ? await this.ds.query<FigureRow[]>(
            `SELECT ${FIGURES} FROM (SELECT $1::uuid AS id) r
             LEFT JOIN coverage_region cr ON cr.region_id = r.id`,
            [scope.id],
          )
        : await this.ds.query<FigureRow[]>(
            `SELECT ${SUMS} FROM region r JOIN coverage_region cr ON cr.region_id = r.id
             WHERE r.parent_id IS NULL`,
          );
    return row;
  }

  /** Children of a region, or the roots; each with its subtree's figures. */
  async childRegions(parentId: string | null, onlyId?: string): Promise<RegionFigureRow[]> {
    const where = onlyId ? 'r.id = $1' : parentId ? 'r.parent_id = $1' : 'r.parent_id IS NULL';
    return this.ds.query<RegionFigureRow[]>(
      `SELECT r.id, r.code, r.name, r.level, ${FIGURES}
       FROM region r LEFT JOIN coverage_region cr ON cr.region_id = r.id
       WHERE ${where} ORDER BY r.code`,
      onlyId ? [onlyId] : parentId ? [parentId] : [],
    );
  }

  async subjects(scope: Scope): Promise<SubjectRow[]> {
    const from =
      scope.kind === 'region'
        ? `coverage_region_subject c WHERE c.region_id = $1`
        : `coverage_region_subject c JOIN region r ON r.id = c.region_id WHERE r.parent_id IS NULL`;
    return this.ds.query<SubjectRow[]>(
      `SELECT c.subject, c.grade, sum(c.gaps)::text AS gaps, sum(c.covered)::text AS covered,
              sum(c.installed)::text AS installed
       FROM ${from}
       GROUP BY c.subject, c.grade HAVING sum(c.gaps) > 0 OR sum(c.installed) > 0
       ORDER BY c.subject, c.grade`,
      scope.kind === 'region' ? [scope.id] : [],
    );
  }

  /** One page of schools in region-path then code order (one index range), and the total. */
  async schools(
    scope: Scope,
    status: SchoolStatus | undefined,
    offset: number,
    limit: number,
  ): Promise<[SchoolRow[], number]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (scope.kind === 'region')
      where.push(`cs.region_path LIKE $${params.push(`${scope.path}%`)}`);
    if (status) where.push(STATUS_SQL[status]);
    const rows = await this.ds.query<SchoolRow[]>(
      `SELECT cs.school_id, cs.code, s.name, cs.region_id, r.code AS region_code,
              r.name AS region_name, cs.pupils, cs.terminals_total, cs.terminals_seen,
              (SELECT max(t.last_seen_at) FROM terminal t
               WHERE t.school_id = cs.school_id AND t.revoked_at IS NULL) AS last_seen_at,
              cs.gaps_total, cs.gaps_covered, cs.assignments_total, cs.installed, cs.pending,
              cs.late, cs.failed, cs.bytes_source::text, cs.bytes_sent::text,
              cs.bytes_saved::text, cs.bytes_broadcast::text, cs.bytes_unicast::text,
              cs.bytes_saved_broadcast::text
       FROM (SELECT * FROM coverage_school cs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
             ORDER BY cs.region_path, cs.code
             LIMIT $${params.push(limit)} OFFSET $${params.push(offset)}) cs
       JOIN school s ON s.id = cs.school_id JOIN region r ON r.id = cs.region_id
       ORDER BY cs.region_path, cs.code`,
      params,
    );
    // The total comes from the region's pre-aggregated counts, not from counting rows.
    const figures = await this.figures(scope);
    const total = Number(status ? figures[STATUS_COUNT[status]] : figures.schools);
    return [rows, total];
  }

  async schoolExists(id: string): Promise<{ path: string } | null> {
    const [row] = await this.ds.query<{ path: string }[]>(
      `SELECT r.path FROM school s JOIN region r ON r.id = s.region_id WHERE s.id = $1`,
      [id],
    );
    return row ?? null;
  }

  /** Adds satellite bytes to a school or a region; the next refresh folds them in. */
  async addSatellite(
    scope: 'school' | 'region',
    id: string,
    via: 'broadcast' | 'unicast',
    bytes: number,
    saved: number,
  ): Promise<void> {
    await this.ds.transaction(async (em) => {
      await em.query(
        `INSERT INTO coverage_satellite AS c (scope, scope_id, via, bytes, saved)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scope, scope_id, via) DO UPDATE SET
           bytes = c.bytes + excluded.bytes, saved = c.saved + excluded.saved`,
        [scope, id, via, bytes, saved],
      );
      if (scope === 'school') {
        await em.query(`INSERT INTO coverage_dirty (school_id) VALUES ($1)`, [id]);
      }
    });
  }

  /** Coverage ratio (covered gaps / gaps) and terminals seen, per province, for /metrics. */
  async provinces(): Promise<
    { code: string; gaps: string; covered: string; seen: string; total: string }[]
  > {
    return this.ds.query(
      `SELECT r.code, coalesce(cr.gaps_total, 0)::text AS gaps,
              coalesce(cr.gaps_covered, 0)::text AS covered,
              coalesce(cr.terminals_seen, 0)::text AS seen,
              coalesce(cr.terminals_total, 0)::text AS total
       FROM region r LEFT JOIN coverage_region cr ON cr.region_id = r.id
       WHERE r.level = 'province' ORDER BY r.code LIMIT 1000`,
    );
  }
}
