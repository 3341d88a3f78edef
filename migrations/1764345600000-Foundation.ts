import { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1764345600000 implements MigrationInterface {
  name = 'Foundation1764345600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    await q.query(`
      CREATE TABLE region (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        parent_id uuid REFERENCES region(id),
        level text NOT NULL CHECK (level IN ('country','province','prefecture','county','township')),
        code text NOT NULL UNIQUE,
        name text NOT NULL,
        path text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX region_parent_idx ON region (parent_id)`);
    await q.query(`CREATE INDEX region_path_idx ON region (path text_pattern_ops)`);
    await q.query(`
      CREATE TABLE bureau (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        region_id uuid NOT NULL REFERENCES region(id),
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (region_id, name)
      )`);
    await q.query(`
      CREATE TABLE app_user (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        password_hash text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin','bureau','viewer')),
        bureau_id uuid REFERENCES bureau(id),
        region_id uuid REFERENCES region(id),
        disabled boolean NOT NULL DEFAULT false,
        token_version int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX app_user_email_idx ON app_user (lower(email))`);
    await q.query(`
      CREATE TABLE job_record (
        id text PRIMARY KEY,
        queue text NOT NULL,
        name text NOT NULL,
        user_id uuid REFERENCES app_user(id),
        state text NOT NULL,
        progress int NOT NULL DEFAULT 0,
        result jsonb,
        error text,
        attempts int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
    await q.query(`CREATE INDEX job_record_finished_idx ON job_record (finished_at)`);
    await q.query(`
      CREATE TABLE blob (
        sha256 char(64) PRIMARY KEY,
        size bigint NOT NULL CHECK (size >= 0),
        media_type text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE lesson (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        bureau_id uuid NOT NULL REFERENCES bureau(id),
        title text NOT NULL,
        description text,
        subject text NOT NULL,
        grades int[] NOT NULL,
        language text NOT NULL,
        curriculum_code text,
        textbook_edition text,
        duration_minutes int,
        tags text[] NOT NULL DEFAULT '{}',
        teacherless_ready boolean NOT NULL DEFAULT false,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active','retired')),
        draft_version int NOT NULL,
        published_version int,
        search_text text NOT NULL,
        search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED,
        search_grams text[] NOT NULL DEFAULT '{}',
        created_by uuid REFERENCES app_user(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz
      )`);
    await q.query(`CREATE INDEX lesson_bureau_idx ON lesson (bureau_id)`);
    await q.query(`CREATE INDEX lesson_subject_idx ON lesson (subject, language)`);
    await q.query(`CREATE INDEX lesson_grades_idx ON lesson USING gin (grades)`);
    await q.query(`CREATE INDEX lesson_tsv_idx ON lesson USING gin (search_tsv)`);
    await q.query(`CREATE INDEX lesson_trgm_idx ON lesson USING gin (search_text gin_trgm_ops)`);
    await q.query(`CREATE INDEX lesson_grams_idx ON lesson USING gin (search_grams)`);
    // Newest-first pages and their counts come from the index alone for active lessons.
    await q.query(
      `CREATE INDEX lesson_created_idx ON lesson (created_at DESC, id) INCLUDE (published_version, bureau_id) WHERE status = 'active'`,
    );
    await q.query(`
      CREATE TABLE lesson_version (
        lesson_id uuid NOT NULL REFERENCES lesson(id),
        version int NOT NULL CHECK (version >= 1),
        state text NOT NULL CHECK (state IN ('draft','published','retired')),
        published_at timestamptz,
        published_by uuid REFERENCES app_user(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (lesson_id, version)
      )`);
    await q.query(`
      CREATE TABLE lesson_file (
        lesson_id uuid NOT NULL,
        version int NOT NULL,
        path text NOT NULL,
        blob_sha256 char(64) NOT NULL REFERENCES blob(sha256),
        size bigint NOT NULL,
        media_type text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (lesson_id, version, path),
        FOREIGN KEY (lesson_id, version) REFERENCES lesson_version(lesson_id, version)
      )`);
    await q.query(`CREATE INDEX lesson_file_blob_idx ON lesson_file (blob_sha256)`);
    await q.query(`
      CREATE TABLE course (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        title text NOT NULL,
        subject text NOT NULL,
        grade int NOT NULL CHECK (grade BETWEEN 1 AND 12),
        bureau_id uuid REFERENCES bureau(id),
        lesson_ids uuid[] NOT NULL,
        created_by uuid REFERENCES app_user(id),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE upload (
        id text PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES app_user(id),
        lesson_id uuid NOT NULL REFERENCES lesson(id),
        bureau_id uuid NOT NULL REFERENCES bureau(id),
        path text NOT NULL,
        filename text,
        size bigint,
        expected_sha256 text,
        state text NOT NULL DEFAULT 'receiving',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX upload_updated_idx ON upload (updated_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'upload',
      'course',
      'lesson_file',
      'lesson_version',
      'lesson',
      'blob',
      'job_record',
      'app_user',
      'bureau',
      'region',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
