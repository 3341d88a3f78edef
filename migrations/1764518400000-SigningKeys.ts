import { MigrationInterface, QueryRunner } from 'typeorm';

export class SigningKeys1764518400000 implements MigrationInterface {
  name = 'SigningKeys1764518400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE signing_key (
        key_id text PRIMARY KEY,
        algorithm text NOT NULL DEFAULT 'ed25519',
        public_key bytea NOT NULL,
        private_key_enc bytea,
        signed_by text REFERENCES signing_key(key_id),
        signature bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS signing_key`);
  }
}
