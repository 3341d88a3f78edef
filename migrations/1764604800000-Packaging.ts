import { MigrationInterface, QueryRunner } from 'typeorm';

export class Packaging1764604800000 implements MigrationInterface {
  name = 'Packaging1764604800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rendition (
        source_sha256 char(64) NOT NULL,
        profile text NOT NULL,
        state text NOT NULL CHECK (state IN ('pending','ready','skipped','failed')),
        blob_sha256 char(64),
        size bigint,
        media_type text,
        reason text,
        attempts int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (source_sha256, profile)
      )`);
    await q.query(
      `CREATE INDEX rendition_pending_idx ON rendition (updated_at) WHERE state = 'pending'`,
    );
    await q.query(`
      CREATE TABLE bundle (
        id uuid PRIMARY KEY,
        audience_type text NOT NULL CHECK (audience_type IN ('school','group')),
        audience_id text NOT NULL,
        state text NOT NULL CHECK (state IN ('queued','building','ready','failed','superseded')),
        progress int NOT NULL DEFAULT 0,
        plan jsonb NOT NULL,
        lessons jsonb NOT NULL,
        source_bytes bigint NOT NULL DEFAULT 0,
        bundle_bytes bigint,
        sha256 char(64),
        manifest jsonb,
        minisig text,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        ready_at timestamptz,
        superseded_at timestamptz
      )`);
    await q.query(`CREATE INDEX bundle_state_idx ON bundle (state)`);
    await q.query(`
      CREATE TABLE bundle_school (
        bundle_id uuid NOT NULL REFERENCES bundle(id) ON DELETE CASCADE,
        school_id uuid NOT NULL REFERENCES school(id) ON DELETE CASCADE,
        need_version bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        superseded_at timestamptz,
        PRIMARY KEY (bundle_id, school_id)
      )`);
    await q.query(
      `CREATE INDEX bundle_school_school_idx ON bundle_school (school_id) WHERE superseded_at IS NULL`,
    );
    await q.query(`ALTER TABLE school ADD COLUMN planned_need_version bigint NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE school DROP COLUMN IF EXISTS planned_need_version`);
    for (const table of ['bundle_school', 'bundle', 'rendition']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
