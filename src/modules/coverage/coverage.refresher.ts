import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returnedRows } from '../../database/columns';
import { STATE_SQL } from '../assignments/assignments.repository';
import { bulkWriteRunning } from '../../database/bulk-write';
import { SCHOOL_FIGURES } from './coverage-columns';

/** How one school row counts toward its regions' sums. */
const REGION_TERMS: [string, string][] = [
  ['schools', '1'],
  ['stale_schools', '(terminals_seen = 0)::int'],
  ['late_schools', '(late > 0)::int'],
  ['uncovered_schools', '(gaps_covered < gaps_total)::int'],
  ...SCHOOL_FIGURES.map((c): [string, string] => [c, c]),
];

const SCHOOL_COLUMNS = [
  'school_id',
  'region_id',
  'region_path',
  'ancestors',
  'code',
  ...SCHOOL_FIGURES,
  'local_date',
  'computed_at',
];

/** A region's ancestors and itself, from its materialised path. */
const ANCESTORS = (path: string) => `string_to_array(trim(both '/' from ${path}), '/')::uuid[]`;

const LOCK_KEY = 7_740_061;

/** The longest a scheduled refresh keeps yielding to a bulk write before it runs anyway. */
const MAX_YIELD_MS = 10 * 60_000;

export interface RefreshResult {
  schools: number;
  terminalChanges: number;
  drained: boolean;
  asOf: string | null;
  ms: number;
  /** Skipped this time: a bulk write was in progress. */
  yielded?: boolean;
}

/**
 * Keeps the coverage rollups in step. Triggers note which schools changed (coverage_dirty);
 * each pass recomputes those schools' rows, and moves every ancestor region's sums by the
 * difference (old row out, new row in), so no request ever scans schools or assignments.
 * Figures that change with time alone (terminals seen in 24 h, assignments passing their due
 * date) are caught by cheap whole-table comparisons on each pass. `as_of` moves only when the
 * queue of changes is drained: everything committed before it is in the rollup.
 */
@Injectable()
export class CoverageRefresher {
  private readonly logger = new Logger(CoverageRefresher.name);
  private sentSql: string | null | undefined;
  private yieldingSince: number | undefined;

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /**
   * Passes of at most `batch` schools until the queue is drained or the budget is spent. With
   * `yieldToBulkWrites` (the scheduled refresh), a bulk write in progress (gap matching) is let
   * finish first, for at most MAX_YIELD_MS in a row: the marks wait in coverage_dirty and `as_of`
   * says how old the rollup is.
   */
  async refresh(
    opts: { budgetMs?: number; batch?: number; yieldToBulkWrites?: boolean } = {},
  ): Promise<RefreshResult> {
    const started = Date.now();
    if (opts.yieldToBulkWrites && (await bulkWriteRunning(this.ds))) {
      this.yieldingSince ??= started;
      if (started - this.yieldingSince < MAX_YIELD_MS) {
        return { schools: 0, terminalChanges: 0, drained: false, asOf: null, ms: 0, yielded: true };
      }
    } else {
      this.yieldingSince = undefined;
    }
    const budget = opts.budgetMs ?? 20_000;
    const batch = opts.batch ?? 5000;
    let schools = 0;
    let terminalChanges = 0;
    let rolled = false;
    for (;;) {
      const pass = await this.pass(batch, !rolled);
      rolled = true;
      if (pass === null) {
        return { schools, terminalChanges, drained: false, asOf: null, ms: Date.now() - started };
      }
      schools += pass.schools;
      terminalChanges += pass.terminalChanges;
      if (pass.drained || Date.now() - started > budget) {
        const ms = Date.now() - started;
        if (schools > 0)
          this.logger.log({ schools, ms, drained: pass.drained }, 'coverage rolled up');
        return { schools, terminalChanges, drained: pass.drained, asOf: pass.asOf, ms };
      }
    }
  }

  /** Forgets every rollup and computes it again from the tables (after a bulk load). */
  async rebuild(): Promise<RefreshResult> {
    await this.ds.transaction(async (em) => {
      await em.query(`SELECT pg_advisory_xact_lock($1)`, [LOCK_KEY]);
      await em.query(
        `TRUNCATE coverage_school, coverage_school_subject, coverage_region, coverage_region_subject, coverage_dirty`,
      );
      await em.query(`UPDATE coverage_satellite SET applied_bytes = 0, applied_saved = 0`);
      await em.query(`INSERT INTO coverage_dirty (school_id) SELECT id FROM school`);
    });
    for (;;) {
      const r = await this.refresh({ budgetMs: 3_600_000 });
      if (r.drained) return r;
    }
  }

  /** One transaction; null when another process holds the refresh lock. */
  private async pass(
    batch: number,
    withRollover: boolean,
  ): Promise<{
    schools: number;
    terminalChanges: number;
    drained: boolean;
    asOf: string | null;
  } | null> {
    const sent = await this.bytesSentSql();
    return this.ds.transaction(async (em) => {
      const [{ locked }] = await em.query<{ locked: boolean }[]>(
        `SELECT pg_try_advisory_xact_lock($1) AS locked`,
        [LOCK_KEY],
      );
      if (!locked) return null;
      // Row estimates over the temporary tables are large enough to trigger JIT compilation,
      // which costs seconds here and saves nothing on statements this short.
      await em.query(`SET LOCAL jit = off`);
      await em.query(`SET LOCAL work_mem = '64MB'`);
      await em.query(`CREATE TEMP TABLE cov_ids (school_id uuid PRIMARY KEY) ON COMMIT DROP`);
      await em.query(
        `WITH pick AS (SELECT DISTINCT school_id FROM coverage_dirty LIMIT $1),
              gone AS (DELETE FROM coverage_dirty d USING pick WHERE d.school_id = pick.school_id
                       RETURNING d.school_id)
         INSERT INTO cov_ids SELECT DISTINCT school_id FROM gone ON CONFLICT DO NOTHING`,
        [batch],
      );
      if (withRollover) {
        // A new day where the school is: assignments may have passed their due date.
        await em.query(
          `INSERT INTO cov_ids
           SELECT cs.school_id FROM coverage_school cs JOIN school s ON s.id = cs.school_id
           WHERE cs.late < cs.assignments_total - cs.installed
             AND cs.local_date < (now() AT TIME ZONE s.timezone)::date
           ON CONFLICT DO NOTHING`,
        );
      }
      // Temporary tables have no statistics until analysed; the plans below depend on them.
      await em.query(`ANALYZE cov_ids`);
      const [{ n }] = await em.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM cov_ids`);
      if (n > 0) await this.recompute(em, sent);
      const terminalChanges = await this.terminalPass(em);
      await this.regionSatellitePass(em);
      const [{ drained }] = await em.query<{ drained: boolean }[]>(
        `SELECT NOT EXISTS (SELECT 1 FROM coverage_dirty) AS drained`,
      );
      // now() is this transaction's start: every change committed before it was claimed here
      // or by an earlier pass, so the rollup reflects the tables as of that instant.
      const state = returnedRows<{ as_of: Date | null }>(
        await em.query(
          `UPDATE coverage_state SET refreshed_at = clock_timestamp(),
             as_of = CASE WHEN $1 THEN now() ELSE as_of END RETURNING as_of`,
          [drained],
        ),
      );
      return {
        schools: n,
        terminalChanges,
        drained,
        asOf: state[0]?.as_of ? state[0].as_of.toISOString() : null,
      };
    });
  }

  private async recompute(em: EntityManager, sent: string | null): Promise<void> {
    await em.query(`
      CREATE TEMP TABLE cov_subj_new ON COMMIT DROP AS
      WITH inst AS (
        SELECT h.school_id, l.subject, g.grade, count(*)::int AS n
        FROM holding h JOIN cov_ids i ON i.school_id = h.school_id
        JOIN lesson l ON l.id = h.lesson_id CROSS JOIN LATERAL unnest(l.grades) AS g(grade)
        GROUP BY 1, 2, 3),
      gap AS (SELECT g.school_id, g.subject, g.grade FROM school_gap g
              JOIN cov_ids i ON i.school_id = g.school_id)
      SELECT coalesce(gap.school_id, inst.school_id) AS school_id,
             coalesce(gap.subject, inst.subject) AS subject,
             coalesce(gap.grade, inst.grade) AS grade,
             gap.school_id IS NOT NULL AS gap,
             gap.school_id IS NOT NULL AND coalesce(inst.n, 0) > 0 AS covered,
             coalesce(inst.n, 0) AS installed
      FROM gap FULL JOIN inst
        ON inst.school_id = gap.school_id AND inst.subject = gap.subject AND inst.grade = gap.grade`);
    await em.query(`ANALYZE cov_subj_new`);
    const sentCte = sent
      ? `sent AS (${sent})`
      : `sent AS (SELECT NULL::uuid AS school_id, 0::bigint AS bytes WHERE false)`;
    await em.query(`
      CREATE TEMP TABLE cov_new ON COMMIT DROP AS
      WITH s AS (
        SELECT s.id, s.region_id, r.path, s.code, s.pupils, s.timezone
        FROM school s JOIN cov_ids i ON i.school_id = s.id JOIN region r ON r.id = s.region_id),
      asg AS (
        SELECT a.school_id, a.lesson_id, l.published_version AS version, ${STATE_SQL} AS state
        FROM assignment a JOIN s ON s.id = a.school_id JOIN lesson l ON l.id = a.lesson_id
        LEFT JOIN holding h ON h.school_id = a.school_id AND h.lesson_id = a.lesson_id
        WHERE a.revoked_at IS NULL),
      lsize AS (
        SELECT x.lesson_id, x.version,
               (SELECT coalesce(sum(f.size), 0) FROM lesson_file f
                WHERE f.lesson_id = x.lesson_id AND f.version = x.version) AS bytes
        FROM (SELECT DISTINCT lesson_id, version FROM asg WHERE version IS NOT NULL) x),
      agg AS (
        SELECT a.school_id, count(*) AS total,
               count(*) FILTER (WHERE a.state = 'installed') AS installed,
               count(*) FILTER (WHERE a.state IN ('pending', 'packaged', 'delivering')) AS pending,
               count(*) FILTER (WHERE a.state = 'late') AS late,
               count(*) FILTER (WHERE a.state = 'failed') AS failed,
               coalesce(sum(z.bytes), 0) AS bytes_source
        FROM asg a LEFT JOIN lsize z ON z.lesson_id = a.lesson_id AND z.version = a.version
        GROUP BY a.school_id),
      saved AS (
        -- What the lesson files the school's current bundles bring weigh as uploaded, against
        -- the bundle: renditions, compression, deltas and files the school already had.
        SELECT bs.school_id, sum(greatest(src.bytes - b.bundle_bytes, 0)) AS bytes
        FROM bundle_school bs JOIN cov_ids i ON i.school_id = bs.school_id
        JOIN bundle b ON b.id = bs.bundle_id AND b.state = 'ready' AND b.bundle_bytes IS NOT NULL
        CROSS JOIN LATERAL (
          SELECT coalesce(sum(lf.size), 0) AS bytes
          FROM jsonb_array_elements(b.plan -> 'files') f
          CROSS JOIN LATERAL jsonb_array_elements(f -> 'targets') t
          JOIN lesson_file lf ON lf.lesson_id = (t ->> 'lessonId')::uuid
            AND lf.version = (t ->> 'version')::int AND lf.path = t ->> 'path') src
        WHERE bs.superseded_at IS NULL
        GROUP BY bs.school_id),
      ${sentCte},
      sat AS (
        SELECT c.scope_id AS school_id,
               coalesce(sum(c.bytes) FILTER (WHERE c.via = 'broadcast'), 0) AS broadcast,
               coalesce(sum(c.bytes) FILTER (WHERE c.via = 'unicast'), 0) AS unicast,
               coalesce(sum(c.saved), 0) AS saved
        FROM coverage_satellite c JOIN cov_ids i ON i.school_id = c.scope_id
        WHERE c.scope = 'school' GROUP BY c.scope_id),
      subj AS (
        SELECT school_id, count(*) FILTER (WHERE gap) AS gaps,
               count(*) FILTER (WHERE covered) AS covered
        FROM cov_subj_new GROUP BY school_id),
      term AS (
        SELECT t.school_id, count(*) AS total,
               count(*) FILTER (WHERE t.last_seen_at >= now() - interval '24 hours') AS seen
        FROM terminal t JOIN cov_ids i ON i.school_id = t.school_id
        WHERE t.revoked_at IS NULL GROUP BY t.school_id)
      SELECT s.id AS school_id, s.region_id, s.path::text COLLATE "C" AS region_path,
             ${ANCESTORS('s.path')} AS ancestors, s.code::text COLLATE "C" AS code,
             s.pupils,
             coalesce(term.total, 0)::int AS terminals_total,
             coalesce(term.seen, 0)::int AS terminals_seen,
             coalesce(subj.gaps, 0)::int AS gaps_total,
             coalesce(subj.covered, 0)::int AS gaps_covered,
             coalesce(agg.total, 0)::int AS assignments_total,
             coalesce(agg.installed, 0)::int AS installed,
             coalesce(agg.pending, 0)::int AS pending,
             coalesce(agg.late, 0)::int AS late,
             coalesce(agg.failed, 0)::int AS failed,
             coalesce(agg.bytes_source, 0)::bigint AS bytes_source,
             coalesce(sent.bytes, 0)::bigint AS bytes_sent,
             coalesce(saved.bytes, 0)::bigint AS bytes_saved,
             coalesce(sat.broadcast, 0)::bigint AS bytes_broadcast,
             coalesce(sat.unicast, 0)::bigint AS bytes_unicast,
             coalesce(sat.saved, 0)::bigint AS bytes_saved_broadcast,
             (now() AT TIME ZONE s.timezone)::date AS local_date,
             now() AS computed_at
      FROM s
      LEFT JOIN agg ON agg.school_id = s.id
      LEFT JOIN saved ON saved.school_id = s.id
      LEFT JOIN sent ON sent.school_id = s.id
      LEFT JOIN sat ON sat.school_id = s.id
      LEFT JOIN subj ON subj.school_id = s.id
      LEFT JOIN term ON term.school_id = s.id`);
    await em.query(
      `CREATE TEMP TABLE cov_old ON COMMIT DROP AS
       SELECT cs.* FROM coverage_school cs JOIN cov_ids i ON i.school_id = cs.school_id`,
    );
    await em.query(`ANALYZE cov_new, cov_old`);
    await this.moveRegions(em, 'cov_new', 'cov_old');
    // Summed per school region first (a county holds many schools), then spread to ancestors.
    await em.query(`
      WITH x AS (
        SELECT n.region_id, s.subject, s.grade, sum(s.gap::int) AS gaps,
               sum(s.covered::int) AS covered, sum(s.installed) AS installed
        FROM cov_subj_new s JOIN cov_new n ON n.school_id = s.school_id
        GROUP BY n.region_id, s.subject, s.grade
        UNION ALL
        SELECT o.region_id, s.subject, s.grade, -sum(s.gap::int), -sum(s.covered::int),
               -sum(s.installed)
        FROM coverage_school_subject s JOIN cov_old o ON o.school_id = s.school_id
        GROUP BY o.region_id, s.subject, s.grade),
      y AS (
        SELECT region_id, subject, grade, sum(gaps) AS gaps, sum(covered) AS covered,
               sum(installed) AS installed
        FROM x GROUP BY region_id, subject, grade
        HAVING sum(gaps) <> 0 OR sum(covered) <> 0 OR sum(installed) <> 0)
      INSERT INTO coverage_region_subject AS c (region_id, subject, grade, gaps, covered, installed)
      SELECT anc, y.subject, y.grade, sum(y.gaps), sum(y.covered), sum(y.installed)
      FROM y JOIN region r ON r.id = y.region_id
      CROSS JOIN LATERAL unnest(${ANCESTORS('r.path')}) AS anc
      GROUP BY anc, y.subject, y.grade
      ON CONFLICT (region_id, subject, grade) DO UPDATE SET
        gaps = c.gaps + excluded.gaps, covered = c.covered + excluded.covered,
        installed = c.installed + excluded.installed`);
    await em.query(
      `DELETE FROM coverage_school_subject s USING cov_ids i WHERE s.school_id = i.school_id`,
    );
    await em.query(
      `INSERT INTO coverage_school_subject (school_id, subject, grade, gap, covered, installed)
       SELECT school_id, subject, grade, gap, covered, installed FROM cov_subj_new`,
    );
    await em.query(`DELETE FROM coverage_school s USING cov_ids i WHERE s.school_id = i.school_id`);
    await em.query(
      `INSERT INTO coverage_school (${SCHOOL_COLUMNS.join(', ')})
       SELECT ${SCHOOL_COLUMNS.join(', ')} FROM cov_new`,
    );
    await em.query(`DROP TABLE cov_new, cov_old, cov_subj_new`);
  }

  /** Moves every ancestor region's sums by (new rows - old rows). */
  private async moveRegions(em: EntityManager, newer: string, older: string): Promise<void> {
    const cols = REGION_TERMS.map(([c]) => c);
    const terms = REGION_TERMS.map(([c, expr]) => `${expr} AS ${c}`).join(', ');
    await em.query(`
      INSERT INTO coverage_region AS c (region_id, ${cols.join(', ')})
      SELECT anc, ${cols.map((col) => `sum(x.sign * x.${col})`).join(', ')}
      FROM (SELECT 1 AS sign, ancestors, ${terms} FROM ${newer}
            UNION ALL
            SELECT -1 AS sign, ancestors, ${terms} FROM ${older}) x
      CROSS JOIN LATERAL unnest(x.ancestors) AS anc
      GROUP BY anc
      ON CONFLICT (region_id) DO UPDATE SET
        ${cols.map((col) => `${col} = c.${col} + excluded.${col}`).join(', ')}`);
  }

  /** Terminals enrolled, revoked or crossing the 24 h line, for every school (a cheap compare). */
  private async terminalPass(em: EntityManager): Promise<number> {
    await em.query(`
      CREATE TEMP TABLE cov_tnew ON COMMIT DROP AS
      SELECT cs.*  FROM coverage_school cs WHERE false`);
    await em.query(`
      WITH t AS (
        SELECT school_id, count(*)::int AS total,
               (count(*) FILTER (WHERE last_seen_at >= now() - interval '24 hours'))::int AS seen
        FROM terminal WHERE revoked_at IS NULL GROUP BY school_id)
      INSERT INTO cov_tnew
      SELECT cs.* FROM coverage_school cs LEFT JOIN t ON t.school_id = cs.school_id
      WHERE (cs.terminals_total, cs.terminals_seen)
        IS DISTINCT FROM (coalesce(t.total, 0), coalesce(t.seen, 0))`);
    const [{ n }] = await em.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM cov_tnew`);
    if (n > 0) {
      await em.query(`CREATE TEMP TABLE cov_told ON COMMIT DROP AS SELECT * FROM cov_tnew`);
      await em.query(`
        UPDATE cov_tnew x SET
          terminals_total = coalesce((SELECT count(*) FROM terminal t
            WHERE t.school_id = x.school_id AND t.revoked_at IS NULL), 0),
          terminals_seen = coalesce((SELECT count(*) FROM terminal t
            WHERE t.school_id = x.school_id AND t.revoked_at IS NULL
              AND t.last_seen_at >= now() - interval '24 hours'), 0)`);
      await this.moveRegions(em, 'cov_tnew', 'cov_told');
      await em.query(`
        UPDATE coverage_school cs SET terminals_total = x.terminals_total,
          terminals_seen = x.terminals_seen
        FROM cov_tnew x WHERE x.school_id = cs.school_id`);
      await em.query(`DROP TABLE cov_told`);
    }
    await em.query(`DROP TABLE cov_tnew`);
    return n;
  }

  /** Satellite bytes booked against a whole region go to it and its ancestors. */
  private async regionSatellitePass(em: EntityManager): Promise<void> {
    await em.query(`
      WITH pend AS (
        SELECT scope_id, via, bytes - applied_bytes AS db, saved - applied_saved AS ds,
               bytes, saved
        FROM coverage_satellite
        WHERE scope = 'region' AND (bytes <> applied_bytes OR saved <> applied_saved)
        FOR UPDATE),
      upd AS (
        UPDATE coverage_satellite c SET applied_bytes = p.bytes, applied_saved = p.saved
        FROM pend p WHERE c.scope = 'region' AND c.scope_id = p.scope_id AND c.via = p.via)
      INSERT INTO coverage_region AS c (region_id, bytes_broadcast, bytes_unicast, bytes_saved_broadcast)
      SELECT anc, coalesce(sum(p.db) FILTER (WHERE p.via = 'broadcast'), 0),
             coalesce(sum(p.db) FILTER (WHERE p.via = 'unicast'), 0), coalesce(sum(p.ds), 0)
      FROM pend p JOIN region r ON r.id = p.scope_id
      CROSS JOIN LATERAL unnest(${ANCESTORS('r.path')}) AS anc
      GROUP BY anc
      ON CONFLICT (region_id) DO UPDATE SET
        bytes_broadcast = c.bytes_broadcast + excluded.bytes_broadcast,
        bytes_unicast = c.bytes_unicast + excluded.bytes_unicast,
        bytes_saved_broadcast = c.bytes_saved_broadcast + excluded.bytes_saved_broadcast`);
  }

  /**
   * Bytes sent per school come from the terminal sync's delivery records where that table
   * exists (it arrives with the sync routes); until then nothing has been sent.
   */
  private async bytesSentSql(): Promise<string | null> {
    if (this.sentSql !== undefined && this.sentSql !== null) return this.sentSql;
    const cols = await this.ds.query<{ column_name: string }[]>(
      `SELECT column_name FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = 'delivery'`,
    );
    const names = new Set(cols.map((c) => c.column_name));
    const bytes = ['bytes_sent', 'bytes'].find((c) => names.has(c));
    this.sentSql =
      names.has('school_id') && bytes
        ? `SELECT d.school_id, sum(d.${bytes})::bigint AS bytes FROM delivery d
           JOIN cov_ids i ON i.school_id = d.school_id GROUP BY d.school_id`
        : null;
    return this.sentSql;
  }
}
