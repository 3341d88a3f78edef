import { MigrationInterface, QueryRunner } from 'typeorm';

const FIGURES = `
  schools bigint NOT NULL DEFAULT 0,
  pupils bigint NOT NULL DEFAULT 0,
  terminals_total bigint NOT NULL DEFAULT 0,
  terminals_seen bigint NOT NULL DEFAULT 0,
  stale_schools bigint NOT NULL DEFAULT 0,
  late_schools bigint NOT NULL DEFAULT 0,
  uncovered_schools bigint NOT NULL DEFAULT 0,
  gaps_total bigint NOT NULL DEFAULT 0,
  gaps_covered bigint NOT NULL DEFAULT 0,
  assignments_total bigint NOT NULL DEFAULT 0,
  installed bigint NOT NULL DEFAULT 0,
  pending bigint NOT NULL DEFAULT 0,
  late bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  bytes_source bigint NOT NULL DEFAULT 0,
  bytes_sent bigint NOT NULL DEFAULT 0,
  bytes_saved bigint NOT NULL DEFAULT 0,
  bytes_broadcast bigint NOT NULL DEFAULT 0,
  bytes_unicast bigint NOT NULL DEFAULT 0,
  bytes_saved_broadcast bigint NOT NULL DEFAULT 0`;

/** Statement-level triggers that note which schools' coverage changed (one row per school). */
const MARKERS: { table: string; event: 'INSERT' | 'UPDATE' | 'DELETE'; fn: string }[] = [
  { table: 'assignment', event: 'INSERT', fn: 'coverage_mark_new' },
  { table: 'assignment', event: 'UPDATE', fn: 'coverage_mark_new' },
  { table: 'assignment', event: 'DELETE', fn: 'coverage_mark_old' },
  { table: 'holding', event: 'INSERT', fn: 'coverage_mark_new' },
  { table: 'holding', event: 'UPDATE', fn: 'coverage_mark_new' },
  { table: 'holding', event: 'DELETE', fn: 'coverage_mark_old' },
  { table: 'school_gap', event: 'INSERT', fn: 'coverage_mark_new' },
  { table: 'school_gap', event: 'DELETE', fn: 'coverage_mark_old' },
  { table: 'bundle_school', event: 'INSERT', fn: 'coverage_mark_new' },
  { table: 'bundle_school', event: 'UPDATE', fn: 'coverage_mark_new' },
  { table: 'school', event: 'INSERT', fn: 'coverage_mark_school_new' },
  { table: 'school', event: 'UPDATE', fn: 'coverage_mark_school_changed' },
  { table: 'school', event: 'DELETE', fn: 'coverage_mark_school_old' },
  { table: 'lesson', event: 'UPDATE', fn: 'coverage_mark_lesson_changed' },
  { table: 'bundle', event: 'UPDATE', fn: 'coverage_mark_bundle_changed' },
];

/**
 * Coverage rollups: one row per school (recomputed when something about it changes) and
 * pre-aggregated figures per region subtree (moved by the difference, so a route reads one row
 * per region). Triggers note changed schools; a periodic job folds them in. See CoverageRefresher.
 */
export class Coverage1764900000000 implements MigrationInterface {
  name = 'Coverage1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE coverage_school (
        school_id uuid PRIMARY KEY,
        region_id uuid NOT NULL,
        region_path text COLLATE "C" NOT NULL,
        ancestors uuid[] NOT NULL,
        code text COLLATE "C" NOT NULL,
        pupils int NOT NULL,
        terminals_total int NOT NULL,
        terminals_seen int NOT NULL,
        gaps_total int NOT NULL,
        gaps_covered int NOT NULL,
        assignments_total int NOT NULL,
        installed int NOT NULL,
        pending int NOT NULL,
        late int NOT NULL,
        failed int NOT NULL,
        bytes_source bigint NOT NULL,
        bytes_sent bigint NOT NULL,
        bytes_saved bigint NOT NULL,
        bytes_broadcast bigint NOT NULL,
        bytes_unicast bigint NOT NULL,
        bytes_saved_broadcast bigint NOT NULL,
        local_date date NOT NULL,
        computed_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX coverage_school_path_idx ON coverage_school (region_path, code)`);
    await q.query(
      `CREATE INDEX coverage_school_stale_idx ON coverage_school (region_path, code) WHERE terminals_seen = 0`,
    );
    await q.query(
      `CREATE INDEX coverage_school_late_idx ON coverage_school (region_path, code) WHERE late > 0`,
    );
    await q.query(
      `CREATE INDEX coverage_school_uncovered_idx ON coverage_school (region_path, code) WHERE gaps_covered < gaps_total`,
    );
    await q.query(`
      CREATE TABLE coverage_school_subject (
        school_id uuid NOT NULL,
        subject text NOT NULL,
        grade int NOT NULL,
        gap boolean NOT NULL,
        covered boolean NOT NULL,
        installed int NOT NULL,
        PRIMARY KEY (school_id, subject, grade)
      )`);
    await q.query(`CREATE TABLE coverage_region (region_id uuid PRIMARY KEY, ${FIGURES})`);
    await q.query(`
      CREATE TABLE coverage_region_subject (
        region_id uuid NOT NULL,
        subject text NOT NULL,
        grade int NOT NULL,
        gaps bigint NOT NULL DEFAULT 0,
        covered bigint NOT NULL DEFAULT 0,
        installed bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (region_id, subject, grade)
      )`);
    await q.query(
      `CREATE TABLE coverage_dirty (id bigserial PRIMARY KEY, school_id uuid NOT NULL)`,
    );
    await q.query(`
      CREATE TABLE coverage_satellite (
        scope text NOT NULL CHECK (scope IN ('school','region')),
        scope_id uuid NOT NULL,
        via text NOT NULL CHECK (via IN ('broadcast','unicast')),
        bytes bigint NOT NULL DEFAULT 0,
        saved bigint NOT NULL DEFAULT 0,
        applied_bytes bigint NOT NULL DEFAULT 0,
        applied_saved bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (scope, scope_id, via)
      )`);
    await q.query(`
      CREATE TABLE coverage_state (
        id int PRIMARY KEY CHECK (id = 1),
        as_of timestamptz,
        refreshed_at timestamptz,
        refresh_ms int
      )`);
    await q.query(`INSERT INTO coverage_state (id) VALUES (1)`);

    // Inserted or deleted rows mark their schools (a school's own rows mark it by id).
    for (const [fn, column, rows] of [
      ['coverage_mark_new', 'DISTINCT school_id', 'new_rows'],
      ['coverage_mark_old', 'DISTINCT school_id', 'old_rows'],
      ['coverage_mark_school_new', 'id', 'new_rows'],
      ['coverage_mark_school_old', 'id', 'old_rows'],
    ]) {
      await q.query(`
        CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO coverage_dirty (school_id) SELECT ${column} FROM ${rows};
          RETURN NULL;
        END $$`);
    }
    // Need versions move on every change; only what coverage shows marks a school.
    await q.query(`
      CREATE FUNCTION coverage_mark_school_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO coverage_dirty (school_id)
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.pupils, n.region_id, n.code, n.timezone) IS DISTINCT FROM
              (o.pupils, o.region_id, o.code, o.timezone);
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION coverage_mark_lesson_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO coverage_dirty (school_id)
        SELECT DISTINCT x.school_id FROM (
          SELECT a.school_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            JOIN assignment a ON a.lesson_id = n.id AND a.revoked_at IS NULL
          WHERE (n.published_version, n.status, n.subject, n.grades) IS DISTINCT FROM
                (o.published_version, o.status, o.subject, o.grades)
          UNION ALL
          SELECT h.school_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            JOIN holding h ON h.lesson_id = n.id
          WHERE (n.subject, n.grades) IS DISTINCT FROM (o.subject, o.grades)) x;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION coverage_mark_bundle_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO coverage_dirty (school_id)
        SELECT DISTINCT bs.school_id FROM new_rows n JOIN old_rows o ON o.id = n.id
          JOIN bundle_school bs ON bs.bundle_id = n.id
        WHERE (n.state, n.bundle_bytes) IS DISTINCT FROM (o.state, o.bundle_bytes);
        RETURN NULL;
      END $$`);
    for (const m of MARKERS) {
      const refs =
        m.event === 'INSERT'
          ? 'NEW TABLE AS new_rows'
          : m.event === 'DELETE'
            ? 'OLD TABLE AS old_rows'
            : 'OLD TABLE AS old_rows NEW TABLE AS new_rows';
      await q.query(
        `CREATE TRIGGER coverage_${m.table}_${m.event.toLowerCase()} AFTER ${m.event} ON ${m.table}
         REFERENCING ${refs} FOR EACH STATEMENT EXECUTE FUNCTION ${m.fn}()`,
      );
    }
    // Deliveries (bytes sent, failed and delivering states) come with the terminal sync; its
    // migration is older than this one, so the table exists here once that feature is in.
    for (const [event, fn, refs] of [
      ['INSERT', 'coverage_mark_new', 'NEW TABLE AS new_rows'],
      ['UPDATE', 'coverage_mark_new', 'OLD TABLE AS old_rows NEW TABLE AS new_rows'],
      ['DELETE', 'coverage_mark_old', 'OLD TABLE AS old_rows'],
    ]) {
      await q.query(`
        DO $$ BEGIN
          IF to_regclass('delivery') IS NOT NULL THEN
            CREATE TRIGGER coverage_delivery_${event.toLowerCase()} AFTER ${event} ON delivery
              REFERENCING ${refs} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}();
          END IF;
        END $$`);
    }
    // Schools that exist before this migration are rolled up by the first refresh.
    await q.query(`INSERT INTO coverage_dirty (school_id) SELECT id FROM school`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const event of ['insert', 'update', 'delete']) {
      await q.query(`
        DO $$ BEGIN
          IF to_regclass('delivery') IS NOT NULL THEN
            DROP TRIGGER IF EXISTS coverage_delivery_${event} ON delivery;
          END IF;
        END $$`);
    }
    for (const m of MARKERS) {
      await q.query(
        `DROP TRIGGER IF EXISTS coverage_${m.table}_${m.event.toLowerCase()} ON ${m.table}`,
      );
    }
    for (const fn of new Set(MARKERS.map((m) => m.fn))) {
      await q.query(`DROP FUNCTION IF EXISTS ${fn}()`);
    }
    for (const table of [
      'coverage_state',
      'coverage_satellite',
      'coverage_dirty',
      'coverage_region_subject',
      'coverage_region',
      'coverage_school_subject',
      'coverage_school',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
