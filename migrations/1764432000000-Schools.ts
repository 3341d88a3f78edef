import { MigrationInterface, QueryRunner } from 'typeorm';

export class Schools1764432000000 implements MigrationInterface {
  name = 'Schools1764432000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE school (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        code text NOT NULL UNIQUE,
        region_id uuid NOT NULL REFERENCES region(id),
        name text NOT NULL,
        pupils int NOT NULL CHECK (pupils >= 0),
        grades int[] NOT NULL,
        languages text[] NOT NULL,
        teacher_gaps jsonb NOT NULL DEFAULT '[]',
        downlink_kbps int NOT NULL CHECK (downlink_kbps >= 0),
        windows jsonb NOT NULL DEFAULT '[]',
        timezone text NOT NULL,
        monthly_cap_mb int CHECK (monthly_cap_mb >= 0),
        broadcast_receiver boolean NOT NULL DEFAULT false,
        storage_capacity_mb int NOT NULL CHECK (storage_capacity_mb >= 0),
        max_video_height int NOT NULL DEFAULT 480,
        video_codecs text[] NOT NULL DEFAULT '{h264}',
        image_formats text[] NOT NULL DEFAULT '{webp,jpeg,png}',
        search_text text NOT NULL,
        need_version bigint NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX school_region_idx ON school (region_id)`);
    await q.query(`CREATE INDEX school_search_idx ON school USING gin (search_text gin_trgm_ops)`);
    await q.query(`
      CREATE TABLE school_gap (
        school_id uuid NOT NULL REFERENCES school(id) ON DELETE CASCADE,
        subject text NOT NULL,
        grade int NOT NULL CHECK (grade BETWEEN 1 AND 12),
        PRIMARY KEY (school_id, subject, grade)
      )`);
    await q.query(`CREATE INDEX school_gap_subject_idx ON school_gap (subject, grade)`);
    await q.query(`
      CREATE TABLE terminal (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        school_id uuid NOT NULL REFERENCES school(id) ON DELETE CASCADE,
        name text NOT NULL,
        token_hash bytea NOT NULL UNIQUE,
        agent_version text,
        last_seen_at timestamptz,
        free_bytes bigint,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX terminal_school_idx ON terminal (school_id)`);
    await q.query(`
      CREATE TABLE enrollment_code (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        school_id uuid NOT NULL REFERENCES school(id) ON DELETE CASCADE,
        code_hash bytea NOT NULL UNIQUE,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        created_by uuid REFERENCES app_user(id),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE assignment (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        school_id uuid NOT NULL REFERENCES school(id) ON DELETE CASCADE,
        lesson_id uuid NOT NULL REFERENCES lesson(id),
        course_id uuid REFERENCES course(id),
        source text NOT NULL CHECK (source IN ('manual','gap-match')),
        reason text,
        score real,
        due_date date,
        priority int NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 9),
        created_by uuid REFERENCES app_user(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      )`);
    await q.query(
      `CREATE UNIQUE INDEX assignment_live_idx ON assignment (school_id, lesson_id) WHERE revoked_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX assignment_lesson_idx ON assignment (lesson_id) WHERE revoked_at IS NULL`,
    );
    await q.query(`
      CREATE TABLE holding (
        school_id uuid NOT NULL REFERENCES school(id) ON DELETE CASCADE,
        lesson_id uuid NOT NULL REFERENCES lesson(id),
        version int NOT NULL,
        bytes bigint NOT NULL DEFAULT 0,
        confirmed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (school_id, lesson_id)
      )`);
    await q.query(`
      CREATE TABLE school_event (
        id bigserial PRIMARY KEY,
        school_id uuid NOT NULL REFERENCES school(id) ON DELETE CASCADE,
        kind text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz
      )`);
    await q.query(
      `CREATE INDEX school_event_pending_idx ON school_event (school_id) WHERE processed_at IS NULL`,
    );
    await q.query(`
      CREATE TABLE match_proposal (
        job_id text NOT NULL,
        seq int NOT NULL,
        school_id uuid NOT NULL,
        subject text NOT NULL,
        grade int NOT NULL,
        lesson_id uuid,
        course_id uuid,
        score real NOT NULL,
        reason text NOT NULL,
        PRIMARY KEY (job_id, seq)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'match_proposal',
      'school_event',
      'holding',
      'assignment',
      'enrollment_code',
      'terminal',
      'school_gap',
      'school',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
