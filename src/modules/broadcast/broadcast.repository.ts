import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { BundlePlan } from '../packaging/packaging.entities';
import type { BroadcastItem } from './planning/grouping';

/** A broadcast bundle's audience id starts with this; unicast bundles never do. */
export const BROADCAST_AUDIENCE_PREFIX = 'broadcast-';

export interface SchoolBundleRow {
  school_id: string;
  region_path: string;
  plan: BundlePlan;
}

export interface SlotRow {
  bundle_id: string;
  state: 'scheduled' | 'sending' | 'done' | 'unscheduled';
  due_date: string | null;
  overhead: number;
  cycles: number;
  cycle_bytes: string;
  starts_at: Date | null;
  first_cycle_ends_at: Date | null;
  ends_at: Date | null;
  cycles_sent: number;
  bytes_sent: string;
  created_at: Date;
  bundle_state: string;
  bundle_sha256: string | null;
  bundle_bytes: string | null;
  source_bytes: string;
  schools: number;
}

/** Every read and write of the broadcast tables. */
@Injectable()
export class BroadcastRepository {
  constructor(@InjectDataSource() readonly ds: DataSource) {}

  /** The live unicast bundles of broadcast-capable schools: what each still needs. */
  schoolBundlesOfReceivers(): Promise<SchoolBundleRow[]> {
    return this.ds.query(
      `SELECT bs.school_id, r.path AS region_path, b.plan
       FROM bundle_school bs
       JOIN bundle b ON b.id = bs.bundle_id
       JOIN school s ON s.id = bs.school_id
       JOIN region r ON r.id = s.region_id
       WHERE s.broadcast_receiver AND bs.superseded_at IS NULL
         AND b.state IN ('queued', 'building', 'ready')
         AND b.audience_id NOT LIKE '${BROADCAST_AUDIENCE_PREFIX}%'
       ORDER BY bs.school_id`,
    );
  }

  async dueDates(schoolIds: string[]): Promise<Map<string, string | null>> {
    const rows = await this.ds.query<
      { school_id: string; lesson_id: string; due_date: string | null }[]
    >(
      `SELECT school_id, lesson_id, to_char(min(due_date), 'YYYY-MM-DD') AS due_date
       FROM assignment WHERE school_id = ANY($1::uuid[]) AND revoked_at IS NULL
       GROUP BY school_id, lesson_id`,
      [schoolIds],
    );
    return new Map(rows.map((r) => [`${r.school_id}:${r.lesson_id}`, r.due_date]));
  }

  /** Lesson versions ("lessonId:version") a broadcast on the air or planned stands for, per school. */
  async coveredLessons(schoolId: string | null, graceHours: number): Promise<Set<string>> {
    const rows = await this.ds.query<{ school_id: string; lesson_id: string; version: number }[]>(
      `SELECT a.school_id, a.lesson_id, a.version FROM broadcast_audience a
       JOIN broadcast_slot s ON s.bundle_id = a.bundle_id
       WHERE ($1::uuid IS NULL OR a.school_id = $1)
         AND (s.state IN ('scheduled', 'sending')
              OR (s.state = 'done' AND s.finished_at > now() - make_interval(hours => $2)))`,
      [schoolId, graceHours],
    );
    return new Set(
      rows.map((r) => (schoolId ? '' : `${r.school_id}:`) + `${r.lesson_id}:${r.version}`),
    );
  }

  /** When each lesson version reaches the school by broadcast: the end of its first cycle. */
  async arrivals(schoolId: string): Promise<Map<string, Date>> {
    const rows = await this.ds.query<
      { lesson_id: string; version: number; first_cycle_ends_at: Date }[]
    >(
      `SELECT a.lesson_id, a.version, min(s.first_cycle_ends_at) AS first_cycle_ends_at
       FROM broadcast_audience a JOIN broadcast_slot s ON s.bundle_id = a.bundle_id
       WHERE a.school_id = $1 AND s.state IN ('scheduled', 'sending') AND s.first_cycle_ends_at IS NOT NULL
       GROUP BY a.lesson_id, a.version`,
      [schoolId],
    );
    return new Map(rows.map((r) => [`${r.lesson_id}:${r.version}`, r.first_cycle_ends_at]));
  }

  async regionLosses(): Promise<Map<string, number>> {
    const rows = await this.ds.query<{ region_id: string; loss: number }[]>(
      `SELECT region_id, loss FROM region_loss`,
    );
    return new Map(rows.map((r) => [r.region_id, r.loss]));
  }

  async saveDecisions(items: BroadcastItem[], bundleOf: Map<BroadcastItem, string>): Promise<void> {
    if (items.length === 0) return;
    await this.ds.query(
      `INSERT INTO broadcast_decision (lesson_id, version, files_key, schools, bytes, overhead, via,
         reason, broadcast_bytes, unicast_bytes, bundle_id)
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::bigint[], $6::real[],
         $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::uuid[])
       ON CONFLICT (lesson_id, version, files_key) DO UPDATE SET schools = EXCLUDED.schools,
         bytes = EXCLUDED.bytes, overhead = EXCLUDED.overhead, via = EXCLUDED.via,
         reason = EXCLUDED.reason, broadcast_bytes = EXCLUDED.broadcast_bytes,
         unicast_bytes = EXCLUDED.unicast_bytes, bundle_id = EXCLUDED.bundle_id, decided_at = now()`,
      [
        items.map((i) => i.lessonId),
        items.map((i) => i.version),
        items.map((i) => i.filesKey),
        items.map((i) => i.schoolIds.length),
        items.map((i) => i.bytes),
        items.map((i) => i.overhead),
        items.map((i) => i.decision.via),
        items.map((i) => i.decision.reason),
        items.map((i) => i.decision.broadcastBytes),
        items.map((i) => i.decision.unicastBytes),
        items.map((i) => bundleOf.get(i) ?? null),
      ],
    );
  }

  /**
   * The broadcast bundle, its audience (bundle_school, so the schools' sync manifests list it, and
   * broadcast_audience, per lesson) and its carousel slot, in one transaction. A slot that already
   * went out is put back on the schedule for the new audience.
   */
  async saveBroadcast(input: {
    bundleId: string;
    audienceId: string;
    plan: BundlePlan;
    sourceBytes: number;
    schoolIds: string[];
    lessons: { lessonId: string; version: number }[];
    dueDate: string | null;
    overhead: number;
    cycles: number;
    cycleBytes: number;
  }): Promise<string> {
    return this.ds.transaction(async (em: EntityManager) => {
      await em.query(
        `INSERT INTO bundle (id, audience_type, audience_id, state, plan, lessons, source_bytes)
         VALUES ($1, 'group', $2, 'queued', $3::jsonb, $4::jsonb, $5)
         ON CONFLICT (id) DO UPDATE SET state = CASE WHEN bundle.state = 'superseded' THEN
           (CASE WHEN bundle.sha256 IS NULL THEN 'queued' ELSE 'ready' END) ELSE bundle.state END,
           superseded_at = NULL, updated_at = now()`,
        [
          input.bundleId,
          input.audienceId,
          JSON.stringify(input.plan),
          JSON.stringify(input.plan.lessons),
          input.sourceBytes,
        ],
      );
      await em.query(
        `INSERT INTO bundle_school (bundle_id, school_id, need_version)
         SELECT $1, s.id, s.need_version FROM school s WHERE s.id = ANY($2::uuid[])
         ON CONFLICT (bundle_id, school_id) DO UPDATE SET superseded_at = NULL`,
        [input.bundleId, input.schoolIds],
      );
      await em.query(
        `INSERT INTO broadcast_audience (bundle_id, school_id, lesson_id, version)
         SELECT $1, s, l.lesson_id, l.version FROM unnest($2::uuid[]) AS s,
           unnest($3::uuid[], $4::int[]) AS l(lesson_id, version)
         ON CONFLICT DO NOTHING`,
        [
          input.bundleId,
          input.schoolIds,
          input.lessons.map((l) => l.lessonId),
          input.lessons.map((l) => l.version),
        ],
      );
      await em.query(
        `INSERT INTO broadcast_slot (bundle_id, state, due_date, overhead, cycles, cycle_bytes)
         VALUES ($1, 'scheduled', $2::date, $3, $4, $5)
         ON CONFLICT (bundle_id) DO UPDATE SET
           state = CASE WHEN broadcast_slot.state IN ('done', 'unscheduled') THEN 'scheduled' ELSE broadcast_slot.state END,
           cycles_sent = CASE WHEN broadcast_slot.state = 'done' THEN 0 ELSE broadcast_slot.cycles_sent END,
           due_date = LEAST(broadcast_slot.due_date, EXCLUDED.due_date),
           overhead = GREATEST(broadcast_slot.overhead, EXCLUDED.overhead),
           finished_at = CASE WHEN broadcast_slot.state = 'done' THEN NULL ELSE broadcast_slot.finished_at END`,
        [input.bundleId, input.dueDate, input.overhead, input.cycles, input.cycleBytes],
      );
      const [bundle] = await em.query<{ state: string }[]>(
        `SELECT state FROM bundle WHERE id = $1`,
        [input.bundleId],
      );
      return bundle.state;
    });
  }

  /** Slots still to send or being sent, with their bundle's size and state. */
  liveSlots(): Promise<SlotRow[]> {
    return this.slots(`s.state IN ('scheduled', 'sending', 'unscheduled')`);
  }

  allSlots(): Promise<SlotRow[]> {
    return this.slots('true');
  }

  private slots(where: string): Promise<SlotRow[]> {
    return this.ds.query(
      `SELECT s.*, to_char(s.due_date, 'YYYY-MM-DD') AS due_date, b.state AS bundle_state,
              trim(b.sha256) AS bundle_sha256, b.bundle_bytes, b.source_bytes,
              (SELECT count(DISTINCT a.school_id)::int FROM broadcast_audience a WHERE a.bundle_id = s.bundle_id) AS schools
       FROM broadcast_slot s JOIN bundle b ON b.id = s.bundle_id
       WHERE ${where} ORDER BY s.starts_at NULLS LAST, s.created_at, s.bundle_id`,
    );
  }

  async setSlotTimes(
    slots: {
      bundleId: string;
      startsAt: number | null;
      firstCycleEndsAt: number | null;
      endsAt: number | null;
    }[],
    cycleBytes: Map<string, number>,
  ): Promise<void> {
    if (slots.length === 0) return;
    const at = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    await this.ds.query(
      `UPDATE broadcast_slot s SET starts_at = v.starts_at, first_cycle_ends_at = v.first_end,
         ends_at = v.ends_at, cycle_bytes = v.cycle_bytes,
         state = CASE WHEN s.state = 'sending' THEN 'sending'
                      WHEN v.starts_at IS NULL THEN 'unscheduled' ELSE 'scheduled' END
       FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[], $5::bigint[])
         AS v(bundle_id, starts_at, first_end, ends_at, cycle_bytes)
       WHERE s.bundle_id = v.bundle_id`,
      [
        slots.map((s) => s.bundleId),
        slots.map((s) => at(s.startsAt)),
        slots.map((s) => at(s.firstCycleEndsAt)),
        slots.map((s) => at(s.endsAt)),
        slots.map((s) => cycleBytes.get(s.bundleId) ?? 0),
      ],
    );
  }

  /** Broadcasts whose repair grace ended: their schools' remaining need goes back to unicast. */
  async expireAudiences(graceHours: number): Promise<string[]> {
    return this.ds.transaction(async (em) => {
      const rows = await em.query<{ school_id: string; bundle_id: string }[]>(
        // A CTE: TypeORM answers a bare DELETE ... RETURNING with [rows, count].
        `WITH gone AS (DELETE FROM broadcast_audience a USING broadcast_slot s
           WHERE s.bundle_id = a.bundle_id AND s.state = 'done'
             AND s.finished_at <= now() - make_interval(hours => $1)
           RETURNING a.school_id, a.bundle_id)
         SELECT school_id, bundle_id FROM gone`,
        [graceHours],
      );
      for (const r of rows) {
        await em.query(
          `UPDATE bundle_school SET superseded_at = now()
           WHERE bundle_id = $1 AND school_id = $2 AND superseded_at IS NULL`,
          [r.bundle_id, r.school_id],
        );
      }
      return [...new Set(rows.map((r) => r.school_id))];
    });
  }

  async schoolRegion(schoolId: string): Promise<string | null> {
    const [row] = await this.ds.query<{ region_id: string }[]>(
      `SELECT region_id FROM school WHERE id = $1`,
      [schoolId],
    );
    return row?.region_id ?? null;
  }

  /** Blends one sample into the region's loss under a row lock, so concurrent receipts add up. */
  async blendRegionLoss(
    regionId: string,
    blend: (previous: number | null) => number,
  ): Promise<number> {
    return this.ds.transaction(async (em) => {
      const [row] = await em.query<{ loss: number }[]>(
        `SELECT loss FROM region_loss WHERE region_id = $1 FOR UPDATE`,
        [regionId],
      );
      const loss = blend(row ? row.loss : null);
      await em.query(
        `INSERT INTO region_loss (region_id, loss, samples) VALUES ($1, $2, 1)
         ON CONFLICT (region_id) DO UPDATE SET loss = EXCLUDED.loss,
           samples = region_loss.samples + 1, updated_at = now()`,
        [regionId, loss],
      );
      return loss;
    });
  }

  decisions(
    via: string | null,
    limit: number,
    offset: number,
  ): Promise<(Record<string, unknown> & { total: number })[]> {
    return this.ds.query(
      `SELECT d.*, count(*) OVER ()::int AS total FROM broadcast_decision d
       WHERE ($1::text IS NULL OR d.via = $1)
       ORDER BY d.decided_at DESC, d.lesson_id, d.version, d.files_key LIMIT $2 OFFSET $3`,
      [via, limit, offset],
    );
  }

  regionLossRows(): Promise<
    { region_id: string; loss: number; samples: number; updated_at: Date }[]
  > {
    return this.ds.query(
      `SELECT region_id, loss, samples, updated_at FROM region_loss ORDER BY region_id`,
    );
  }

  async audience(bundleId: string): Promise<string[]> {
    const rows = await this.ds.query<{ school_id: string }[]>(
      `SELECT DISTINCT school_id FROM broadcast_audience WHERE bundle_id = $1 ORDER BY school_id`,
      [bundleId],
    );
    return rows.map((r) => r.school_id);
  }

  async markSending(bundleId: string): Promise<void> {
    await this.ds.query(
      `UPDATE broadcast_slot SET state = 'sending', started_at = coalesce(started_at, now())
       WHERE bundle_id = $1`,
      [bundleId],
    );
  }

  /** Counts one cycle sent; true for the first cycle of this slot. */
  async addCycle(bundleId: string, bytes: number): Promise<boolean> {
    const [row] = await this.ds.query<{ cycles_sent: number }[]>(
      `WITH u AS (UPDATE broadcast_slot SET cycles_sent = cycles_sent + 1, bytes_sent = bytes_sent + $2
         WHERE bundle_id = $1 RETURNING cycles_sent)
       SELECT cycles_sent FROM u`,
      [bundleId, bytes],
    );
    return row?.cycles_sent === 1;
  }

  async markDone(bundleId: string): Promise<void> {
    await this.ds.query(
      `UPDATE broadcast_slot SET state = 'done', finished_at = now(), ends_at = now() WHERE bundle_id = $1`,
      [bundleId],
    );
  }

  /** The deepest region whose subtree holds every one of these schools. */
  async commonRegion(schoolIds: string[]): Promise<string | null> {
    if (schoolIds.length === 0) return null;
    const rows = await this.ds.query<{ path: string }[]>(
      `SELECT DISTINCT r.path FROM school s JOIN region r ON r.id = s.region_id WHERE s.id = ANY($1::uuid[])`,
      [schoolIds],
    );
    if (rows.length === 0) return null;
    const split = rows.map((r) => r.path.split('/').filter(Boolean));
    let common: string | null = null;
    for (let i = 0; split.every((p) => i < p.length && p[i] === split[0][i]); i++) {
      common = split[0][i];
    }
    return common;
  }

  /**
   * Broadcast receipts (delivery rows with their loss) finished since the cursor, and the cursor
   * moved past them, in one transaction: each receipt is folded once.
   */
  async takeNewBroadcastLoss(): Promise<
    { school_id: string; loss: { symbolsExpected?: unknown; symbolsReceived?: unknown } }[]
  > {
    return this.ds.transaction(async (em) => {
      const [cursor] = await em.query<{ folded_until: Date }[]>(
        `SELECT folded_until FROM broadcast_loss_cursor WHERE id = 1 FOR UPDATE`,
      );
      if (!cursor) return [];
      const rows = await em.query<
        {
          school_id: string;
          loss: { symbolsExpected?: unknown; symbolsReceived?: unknown };
          finished_at: Date;
        }[]
      >(
        `SELECT school_id, loss, finished_at FROM delivery
         WHERE via = 'broadcast' AND loss IS NOT NULL AND finished_at > $1
         ORDER BY finished_at LIMIT 5000`,
        [cursor.folded_until],
      );
      if (rows.length > 0) {
        await em.query(`UPDATE broadcast_loss_cursor SET folded_until = $1 WHERE id = 1`, [
          rows[rows.length - 1].finished_at,
        ]);
      }
      return rows;
    });
  }
}
