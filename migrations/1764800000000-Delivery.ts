import { MigrationInterface, QueryRunner } from 'typeorm';

export class Delivery1764800000000 implements MigrationInterface {
  name = 'Delivery1764800000000';

  async up(q: QueryRunner): Promise<void> {
    // The signed sync manifest of each school, precomputed: polls read one row.
    await q.query(`
      CREATE TABLE sync_manifest (
        school_id uuid PRIMARY KEY REFERENCES school(id) ON DELETE CASCADE,
        version bigint NOT NULL,
        state_hash char(64) NOT NULL,
        payload text NOT NULL,
        signature text NOT NULL,
        key_id text NOT NULL,
        etag text NOT NULL,
        entitled_files text[] NOT NULL DEFAULT '{}',
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        computed_at timestamptz NOT NULL DEFAULT now(),
        dirty_at timestamptz
      )`);
    await q.query(
      `CREATE INDEX sync_manifest_dirty_idx ON sync_manifest (dirty_at) WHERE dirty_at IS NOT NULL`,
    );
    await q.query(`CREATE INDEX sync_manifest_expiry_idx ON sync_manifest (expires_at)`);
    await q.query(`
      CREATE TABLE delivery (
        bundle_id uuid NOT NULL REFERENCES bundle(id) ON DELETE CASCADE,
        terminal_id uuid NOT NULL REFERENCES terminal(id) ON DELETE CASCADE,
        school_id uuid NOT NULL REFERENCES school(id) ON DELETE CASCADE,
        state text NOT NULL CHECK (state IN ('offered','downloading','installed','failed')),
        bytes bigint NOT NULL DEFAULT 0,
        via text CHECK (via IN ('http','broadcast','usb')),
        error text,
        loss jsonb,
        offered_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (bundle_id, terminal_id)
      )`);
    await q.query(`CREATE INDEX delivery_school_idx ON delivery (school_id, state)`);
    // What each terminal reported installed; the school's holding is what all its terminals hold.
    await q.query(`
      CREATE TABLE terminal_lesson (
        terminal_id uuid NOT NULL REFERENCES terminal(id) ON DELETE CASCADE,
        lesson_id uuid NOT NULL,
        version int NOT NULL CHECK (version >= 1),
        confirmed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (terminal_id, lesson_id)
      )`);
    // Bytes sent to each school per calendar month of its own time zone ('YYYY-MM').
    await q.query(`
      CREATE TABLE school_traffic (
        school_id uuid NOT NULL REFERENCES school(id) ON DELETE CASCADE,
        month char(7) NOT NULL,
        bytes bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (school_id, month)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['school_traffic', 'terminal_lesson', 'delivery', 'sync_manifest']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
