import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { ReadyBundle, WantedLesson } from './manifest-state';

export interface SchoolDeviceRow {
  id: string;
  max_video_height: number;
  video_codecs: string[];
  image_formats: string[];
  downlink_kbps: number;
}

export interface StoredManifest {
  version: number;
  stateHash: string;
  keyId: string;
  etag: string;
  body: string;
  expiresAt: Date;
  issuedAt: Date;
}

export interface FileRow {
  lesson_id: string;
  version: number;
  path: string;
  sha256: string;
  size: string;
  media_type: string;
}

/** The delivery tables: sync manifests, deliveries, terminal inventories, traffic. */
@Injectable()
export class DeliveryRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  async school(schoolId: string): Promise<SchoolDeviceRow | null> {
    const [row] = await this.ds.query<SchoolDeviceRow[]>(
      `SELECT id, max_video_height, video_codecs, image_formats, downlink_kbps FROM school WHERE id = $1`,
      [schoolId],
    );
    return row ?? null;
  }

  async hasActiveTerminal(schoolId: string): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(
      `SELECT 1 FROM terminal WHERE school_id = $1 AND revoked_at IS NULL LIMIT 1`,
      [schoolId],
    );
    return rows.length > 0;
  }

  async wanted(schoolId: string): Promise<WantedLesson[]> {
    const rows = await this.ds.query<
      {
        lesson_id: string;
        version: number;
        priority: number;
        title: string;
        subject: string;
        grades: number[];
      }[]
    >(
      `SELECT a.lesson_id, l.published_version AS version, min(a.priority)::int AS priority,
              l.title, l.subject, l.grades
       FROM assignment a JOIN lesson l ON l.id = a.lesson_id
       WHERE a.school_id = $1 AND a.revoked_at IS NULL AND l.status = 'active'
         AND l.published_version IS NOT NULL
       GROUP BY a.lesson_id, l.published_version, l.title, l.subject, l.grades`,
      [schoolId],
    );
    return rows.map((r) => ({
      lessonId: r.lesson_id,
      version: r.version,
      priority: r.priority,
      title: r.title,
      subject: r.subject,
      grades: r.grades,
    }));
  }

  async held(schoolId: string): Promise<Map<string, number>> {
    const rows = await this.ds.query<{ lesson_id: string; version: number }[]>(
      `SELECT lesson_id, version FROM holding WHERE school_id = $1`,
      [schoolId],
    );
    return new Map(rows.map((r) => [r.lesson_id, r.version]));
  }

  async reportedLessons(schoolId: string): Promise<Set<string>> {
    const rows = await this.ds.query<{ lesson_id: string }[]>(
      `SELECT DISTINCT tl.lesson_id FROM terminal_lesson tl JOIN terminal t ON t.id = tl.terminal_id
       JOIN lesson l ON l.id = tl.lesson_id
       WHERE t.school_id = $1 AND t.revoked_at IS NULL`,
      [schoolId],
    );
    return new Set(rows.map((r) => r.lesson_id));
  }

  /** Ready bundles bound to the school now, with the patch bases their entries need. */
  async readyBundles(schoolId: string): Promise<(ReadyBundle & { bases: string[] })[]> {
    const rows = await this.ds.query<
      {
        id: string;
        sha256: string;
        bundle_bytes: string;
        lessons: { lessonId: string; version: number }[];
        bases: string[] | null;
      }[]
    >(
      `SELECT b.id, trim(b.sha256) AS sha256, b.bundle_bytes, b.lessons,
              ARRAY(SELECT DISTINCT e->>'base' FROM jsonb_array_elements(coalesce(b.manifest->'entries', '[]'::jsonb)) e
                    WHERE e ? 'base') AS bases
       FROM bundle_school bs JOIN bundle b ON b.id = bs.bundle_id
       WHERE bs.school_id = $1 AND bs.superseded_at IS NULL AND b.state = 'ready' AND b.sha256 IS NOT NULL`,
      [schoolId],
    );
    return rows.map((r) => ({
      id: r.id,
      sha256: r.sha256,
      size: Number(r.bundle_bytes),
      lessons: r.lessons,
      bases: r.bases ?? [],
    }));
  }

  async lessonFiles(pairs: { lessonId: string; version: number }[]): Promise<FileRow[]> {
    if (pairs.length === 0) return [];
    return this.ds.query<FileRow[]>(
      `SELECT f.lesson_id, f.version, f.path, trim(f.blob_sha256) AS sha256, f.size, f.media_type
       FROM lesson_file f JOIN unnest($1::uuid[], $2::int[]) AS v(lesson_id, version)
         ON f.lesson_id = v.lesson_id AND f.version = v.version`,
      [pairs.map((p) => p.lessonId), pairs.map((p) => p.version)],
    );
  }

  async keysVersion(): Promise<number> {
    const [row] = await this.ds.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM signing_key`,
    );
    return row?.n ?? 0;
  }

  async stored(
    schoolId: string,
    em: EntityManager | DataSource = this.ds,
  ): Promise<StoredManifest | null> {
    const [row] = await em.query<
      {
        version: string;
        state_hash: string;
        key_id: string;
        etag: string;
        payload: string;
        signature: string;
        expires_at: Date;
        issued_at: Date;
      }[]
    >(
      `SELECT version, state_hash, key_id, etag, payload, signature, expires_at, issued_at
       FROM sync_manifest WHERE school_id = $1`,
      [schoolId],
    );
    if (!row) return null;
    return {
      version: Number(row.version),
      stateHash: row.state_hash,
      keyId: row.key_id,
      etag: row.etag,
      body: JSON.stringify({ payload: row.payload, signature: row.signature, keyId: row.key_id }),
      expiresAt: row.expires_at,
      issuedAt: row.issued_at,
    };
  }

  async saveManifest(
    em: EntityManager,
    m: {
      schoolId: string;
      version: number;
      stateHash: string;
      payload: string;
      signature: string;
      keyId: string;
      etag: string;
      entitledFiles: string[];
      issuedAt: Date;
      expiresAt: Date;
      startedAt: Date;
    },
  ): Promise<void> {
    await em.query(
      `INSERT INTO sync_manifest (school_id, version, state_hash, payload, signature, key_id, etag,
                                  entitled_files, issued_at, expires_at, computed_at, dirty_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), NULL)
       ON CONFLICT (school_id) DO UPDATE SET version = EXCLUDED.version, state_hash = EXCLUDED.state_hash,
         payload = EXCLUDED.payload, signature = EXCLUDED.signature, key_id = EXCLUDED.key_id,
         etag = EXCLUDED.etag, entitled_files = EXCLUDED.entitled_files, issued_at = EXCLUDED.issued_at,
         expires_at = EXCLUDED.expires_at, computed_at = now(),
         dirty_at = CASE WHEN sync_manifest.dirty_at > $11 THEN sync_manifest.dirty_at END`,
      [
        m.schoolId,
        m.version,
        m.stateHash,
        m.payload,
        m.signature,
        m.keyId,
        m.etag,
        m.entitledFiles,
        m.issuedAt,
        m.expiresAt,
        m.startedAt,
      ],
    );
  }

  async clearDirty(em: EntityManager, schoolId: string, startedAt: Date): Promise<void> {
    await em.query(
      `UPDATE sync_manifest SET dirty_at = NULL, computed_at = now() WHERE school_id = $1 AND dirty_at <= $2`,
      [schoolId, startedAt],
    );
  }

  async isDirty(schoolId: string): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(
      `SELECT 1 FROM sync_manifest WHERE school_id = $1 AND dirty_at IS NOT NULL`,
      [schoolId],
    );
    return rows.length > 0;
  }

  async markDirty(schoolIds: string[]): Promise<void> {
    if (schoolIds.length === 0) return;
    await this.ds.query(
      `UPDATE sync_manifest SET dirty_at = clock_timestamp() WHERE school_id = ANY($1::uuid[])`,
      [schoolIds],
    );
  }

  async schoolsOfBundle(bundleId: string): Promise<string[]> {
    const rows = await this.ds.query<{ school_id: string }[]>(
      `SELECT school_id FROM bundle_school WHERE bundle_id = $1 AND superseded_at IS NULL`,
      [bundleId],
    );
    return rows.map((r) => r.school_id);
  }

  /** Manifests to redo: changed and not recomputed, signed by an old key, or half-way to expiry. */
  async stale(currentKeyId: string, ttlHours: number): Promise<string[]> {
    const rows = await this.ds.query<{ school_id: string }[]>(
      `SELECT school_id FROM sync_manifest
       WHERE (dirty_at IS NOT NULL AND dirty_at < now() - interval '30 seconds')
          OR key_id <> $1
          OR expires_at < now() + make_interval(secs => $2 * 1800)
       LIMIT 5000`,
      [currentKeyId, ttlHours],
    );
    return rows.map((r) => r.school_id);
  }

  /** Every active terminal of the school is offered the bundles its manifest lists. */
  async offer(em: EntityManager, schoolId: string, bundleIds: string[]): Promise<void> {
    if (bundleIds.length === 0) return;
    await em.query(
      `INSERT INTO delivery (bundle_id, terminal_id, school_id, state)
       SELECT b.id, t.id, t.school_id, 'offered' FROM terminal t CROSS JOIN unnest($2::uuid[]) AS b(id)
       WHERE t.school_id = $1 AND t.revoked_at IS NULL
       ON CONFLICT (bundle_id, terminal_id) DO NOTHING`,
      [schoolId, bundleIds],
    );
  }

  // ---- byte serving ----

  /** A bundle the school may download: bound to it (now or before), built. */
  async bundleForSchool(
    bundleId: string,
    schoolId: string,
  ): Promise<{ sha256: string; size: number } | null> {
    const [row] = await this.ds.query<{ sha256: string; bundle_bytes: string }[]>(
      `SELECT trim(b.sha256) AS sha256, b.bundle_bytes FROM bundle b
       WHERE b.id = $1 AND b.sha256 IS NOT NULL AND b.bundle_bytes IS NOT NULL
         AND EXISTS (SELECT 1 FROM bundle_school s WHERE s.bundle_id = b.id AND s.school_id = $2)`,
      [bundleId, schoolId],
    );
    return row ? { sha256: row.sha256, size: Number(row.bundle_bytes) } : null;
  }

  /** A file the school is entitled to (in its manifest lessons or a patch base), with its size. */
  async entitledFile(
    sha256: string,
    schoolId: string,
  ): Promise<{ size: number; mediaType: string } | null> {
    const [row] = await this.ds.query<{ size: string; media_type: string }[]>(
      `SELECT b.size, b.media_type FROM sync_manifest m JOIN blob b ON b.sha256 = $1
       WHERE m.school_id = $2 AND $1 = ANY(m.entitled_files)`,
      [sha256, schoolId],
    );
    return row ? { size: Number(row.size), mediaType: row.media_type } : null;
  }

  /** Counts bytes sent: per school and month of its time zone, and on the terminal's delivery. */
  async countSent(
    schoolId: string,
    terminalId: string,
    bundleId: string | null,
    bytes: number,
  ): Promise<void> {
    await this.ds.query(
      `WITH t AS (
         INSERT INTO school_traffic (school_id, month, bytes)
         SELECT s.id, to_char(now() AT TIME ZONE s.timezone, 'YYYY-MM'), $3 FROM school s WHERE s.id = $1
         ON CONFLICT (school_id, month) DO UPDATE SET bytes = school_traffic.bytes + EXCLUDED.bytes
         RETURNING 1)
       INSERT INTO delivery (bundle_id, terminal_id, school_id, state, bytes, started_at, via)
       SELECT $4::uuid, $2, $1, 'downloading', $3, now(), 'http' WHERE $4::uuid IS NOT NULL
       ON CONFLICT (bundle_id, terminal_id) DO UPDATE SET bytes = delivery.bytes + EXCLUDED.bytes,
         state = CASE WHEN delivery.state = 'offered' THEN 'downloading' ELSE delivery.state END,
         started_at = coalesce(delivery.started_at, now()), updated_at = now()`,
      [schoolId, terminalId, bytes, bundleId],
    );
  }

  // ---- receipts and inventory ----

  async bundleLessonsForSchool(
    bundleId: string,
    schoolId: string,
  ): Promise<{ lessonId: string; version: number }[] | null> {
    const [row] = await this.ds.query<{ lessons: { lessonId: string; version: number }[] }[]>(
      `SELECT b.lessons FROM bundle b WHERE b.id = $1
         AND EXISTS (SELECT 1 FROM bundle_school s WHERE s.bundle_id = b.id AND s.school_id = $2)`,
      [bundleId, schoolId],
    );
    return row ? row.lessons : null;
  }

  async recordReceipt(
    em: EntityManager,
    r: {
      bundleId: string;
      terminalId: string;
      schoolId: string;
      state: 'installed' | 'failed';
      bytes: number;
      via: string;
      error: string | null;
      loss: unknown;
    },
  ): Promise<void> {
    await em.query(
      `INSERT INTO delivery (bundle_id, terminal_id, school_id, state, bytes, via, error, loss, started_at, finished_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, now(), now())
       ON CONFLICT (bundle_id, terminal_id) DO UPDATE SET state = EXCLUDED.state,
         bytes = greatest(delivery.bytes, EXCLUDED.bytes), via = EXCLUDED.via, error = EXCLUDED.error,
         loss = EXCLUDED.loss, finished_at = now(), updated_at = now(),
         started_at = coalesce(delivery.started_at, now())`,
      [
        r.bundleId,
        r.terminalId,
        r.schoolId,
        r.state,
        r.bytes,
        r.via,
        r.error,
        r.loss === undefined ? null : JSON.stringify(r.loss),
      ],
    );
  }

  async addTerminalLessons(
    em: EntityManager,
    terminalId: string,
    lessons: { lessonId: string; version: number }[],
  ): Promise<void> {
    if (lessons.length === 0) return;
    await em.query(
      `INSERT INTO terminal_lesson (terminal_id, lesson_id, version)
       SELECT $1, l, v FROM unnest($2::uuid[], $3::int[]) AS x(l, v)
       ON CONFLICT (terminal_id, lesson_id) DO UPDATE
         SET version = greatest(terminal_lesson.version, EXCLUDED.version), confirmed_at = now()`,
      [terminalId, lessons.map((l) => l.lessonId), lessons.map((l) => l.version)],
    );
  }

  async replaceTerminalLessons(
    em: EntityManager,
    terminalId: string,
    lessons: { lessonId: string; version: number }[],
  ): Promise<void> {
    await em.query(`DELETE FROM terminal_lesson WHERE terminal_id = $1`, [terminalId]);
    await em.query(
      `INSERT INTO terminal_lesson (terminal_id, lesson_id, version)
       SELECT $1, l, max(v) FROM unnest($2::uuid[], $3::int[]) AS x(l, v) GROUP BY l`,
      [terminalId, lessons.map((l) => l.lessonId), lessons.map((l) => l.version)],
    );
  }

  async updateTerminal(
    em: EntityManager,
    terminalId: string,
    t: { freeBytes: number; agentVersion: string },
  ): Promise<void> {
    await em.query(
      `UPDATE terminal SET free_bytes = $2, agent_version = $3, last_seen_at = now() WHERE id = $1`,
      [terminalId, t.freeBytes, t.agentVersion],
    );
  }

  /**
   * The school holds a lesson version when every active terminal has it (the lowest version
   * among them): a new or wiped terminal makes the school lack it again, so it is sent again.
   */
  async commonLessons(em: EntityManager, schoolId: string): Promise<Map<string, number>> {
    const rows = await em.query<{ lesson_id: string; version: number }[]>(
      `WITH active AS (SELECT id FROM terminal WHERE school_id = $1 AND revoked_at IS NULL),
            agg AS (SELECT tl.lesson_id, min(tl.version) AS version, count(*) AS n
                    FROM terminal_lesson tl JOIN active a ON a.id = tl.terminal_id
                    JOIN lesson l ON l.id = tl.lesson_id GROUP BY tl.lesson_id)
       SELECT agg.lesson_id, agg.version FROM agg WHERE agg.n = (SELECT count(*) FROM active)`,
      [schoolId],
    );
    return new Map(rows.map((r) => [r.lesson_id, r.version]));
  }

  async holdingsForUpdate(em: EntityManager, schoolId: string): Promise<Map<string, number>> {
    const rows = await em.query<{ lesson_id: string; version: number }[]>(
      `SELECT lesson_id, version FROM holding WHERE school_id = $1 FOR UPDATE`,
      [schoolId],
    );
    return new Map(rows.map((r) => [r.lesson_id, r.version]));
  }

  async setHoldings(
    em: EntityManager,
    schoolId: string,
    upserts: { lessonId: string; version: number; bytes: number }[],
    deletes: string[],
  ): Promise<void> {
    if (deletes.length) {
      await em.query(`DELETE FROM holding WHERE school_id = $1 AND lesson_id = ANY($2::uuid[])`, [
        schoolId,
        deletes,
      ]);
    }
    if (upserts.length) {
      await em.query(
        `INSERT INTO holding (school_id, lesson_id, version, bytes, confirmed_at)
         SELECT $1, l, v, b, now() FROM unnest($2::uuid[], $3::int[], $4::bigint[]) AS x(l, v, b)
         ON CONFLICT (school_id, lesson_id) DO UPDATE SET version = EXCLUDED.version,
           bytes = EXCLUDED.bytes, confirmed_at = now()`,
        [
          schoolId,
          upserts.map((u) => u.lessonId),
          upserts.map((u) => u.version),
          upserts.map((u) => u.bytes),
        ],
      );
    }
  }

  async lockSchool(em: EntityManager, schoolId: string): Promise<void> {
    await em.query(`SELECT pg_advisory_xact_lock(hashtext('delivery:' || $1::text))`, [schoolId]);
  }
}
