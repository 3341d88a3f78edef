import { MigrationInterface, QueryRunner } from 'typeorm';

export class Broadcast1765000000000 implements MigrationInterface {
  name = 'Broadcast1765000000000';

  async up(q: QueryRunner): Promise<void> {
    // One row per (lesson version, bytes): the latest decision, its figures and its reason.
    await q.query(`
      CREATE TABLE broadcast_decision (
        lesson_id uuid NOT NULL,
        version int NOT NULL,
        files_key text NOT NULL,
        schools int NOT NULL,
        bytes bigint NOT NULL,
        overhead real NOT NULL,
        via text NOT NULL CHECK (via IN ('broadcast','unicast')),
        reason text NOT NULL,
        broadcast_bytes bigint NOT NULL,
        unicast_bytes bigint NOT NULL,
        bundle_id uuid,
        decided_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (lesson_id, version, files_key)
      )`);
    await q.query(`
      CREATE TABLE broadcast_slot (
        bundle_id uuid PRIMARY KEY REFERENCES bundle(id) ON DELETE CASCADE,
        state text NOT NULL CHECK (state IN ('scheduled','sending','done','unscheduled')),
        due_date date,
        overhead real NOT NULL,
        cycles int NOT NULL,
        cycle_bytes bigint NOT NULL,
        starts_at timestamptz,
        first_cycle_ends_at timestamptz,
        ends_at timestamptz,
        cycles_sent int NOT NULL DEFAULT 0,
        bytes_sent bigint NOT NULL DEFAULT 0,
        started_at timestamptz,
        finished_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX broadcast_slot_state_idx ON broadcast_slot (state, starts_at)`);
    await q.query(`
      CREATE TABLE broadcast_audience (
        bundle_id uuid NOT NULL REFERENCES bundle(id) ON DELETE CASCADE,
        school_id uuid NOT NULL REFERENCES school(id) ON DELETE CASCADE,
        lesson_id uuid NOT NULL,
        version int NOT NULL,
        PRIMARY KEY (bundle_id, school_id, lesson_id)
      )`);
    await q.query(
      `CREATE INDEX broadcast_audience_school_idx ON broadcast_audience (school_id, lesson_id)`,
    );
    await q.query(`
      CREATE TABLE region_loss (
        region_id uuid PRIMARY KEY REFERENCES region(id) ON DELETE CASCADE,
        loss real NOT NULL,
        samples int NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // How far the loss of broadcast receipts (delivery rows) has been folded into region_loss.
    await q.query(`
      CREATE TABLE broadcast_loss_cursor (
        id int PRIMARY KEY CHECK (id = 1),
        folded_until timestamptz NOT NULL
      )`);
    await q.query(`INSERT INTO broadcast_loss_cursor (id, folded_until) VALUES (1, now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'broadcast_loss_cursor',
      'region_loss',
      'broadcast_audience',
      'broadcast_slot',
      'broadcast_decision',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
