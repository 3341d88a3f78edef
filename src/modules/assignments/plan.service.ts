import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Page, all } from '../../common/http/pagination';
import { Principal } from '../auth/principal';
import { SchoolsService } from '../schools/schools.service';
import { DeliveryPlan, PlanItemInput, computeDeliveryPlan } from './plan/delivery-plan';

const MB = 1024 * 1024;

export interface PlanView extends DeliveryPlan {
  schoolId: string;
  computedAt: string;
}

export interface HoldingView {
  lessonId: string;
  version: number;
  bytes: number;
  confirmedAt: string;
}

/** Feeds the pure delivery-plan function with a school's link, holdings and assignments. */
@Injectable()
export class PlanService {
  private arrivals: (schoolId: string) => Promise<Map<string, Date>> = () =>
    Promise.resolve(new Map<string, Date>());

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly schools: SchoolsService,
  ) {}

  /** When lesson versions ("lessonId:version") reach the school another way (a broadcast). */
  arrivalsElsewhere(lookup: (schoolId: string) => Promise<Map<string, Date>>): void {
    this.arrivals = lookup;
  }

  async plan(p: Principal, schoolId: string, now = new Date()): Promise<PlanView> {
    const school = await this.schools.visible(p, schoolId);
    const rows = await this.ds.query<
      {
        lesson_id: string;
        version: number;
        bytes: string;
        due_date: string | null;
        priority: number;
        created_at: Date;
        held_version: number | null;
        held_bytes: string | null;
      }[]
    >(
      `SELECT DISTINCT ON (a.lesson_id) a.lesson_id, l.published_version AS version,
              coalesce((SELECT sum(f.size) FROM lesson_file f
                        WHERE f.lesson_id = l.id AND f.version = l.published_version), 0) AS bytes,
              to_char(a.due_date, 'YYYY-MM-DD') AS due_date, a.priority, a.created_at,
              h.version AS held_version, h.bytes AS held_bytes
       FROM assignment a JOIN lesson l ON l.id = a.lesson_id
       LEFT JOIN holding h ON h.school_id = a.school_id AND h.lesson_id = a.lesson_id
       WHERE a.school_id = $1 AND a.revoked_at IS NULL AND l.status = 'active' AND l.published_version IS NOT NULL
       ORDER BY a.lesson_id, a.due_date NULLS LAST, a.priority`,
      [schoolId],
    );
    let heldBytes = 0;
    const items: PlanItemInput[] = [];
    for (const r of rows) {
      if (r.held_version !== null) heldBytes += Number(r.held_bytes ?? 0);
      if (r.held_version !== null && r.held_version >= r.version) continue;
      items.push({
        lessonId: r.lesson_id,
        version: r.version,
        bytes: Number(r.bytes),
        dueDate: r.due_date,
        priority: r.priority,
        assignedAt: r.created_at.toISOString(),
      });
    }
    const broadcast = new Map(
      [...(await this.arrivals(schoolId)).entries()].map(([k, at]) => [k, at.getTime()]),
    );
    const plan = computeDeliveryPlan(
      {
        timezone: school.timezone,
        downlinkKbps: school.downlinkKbps,
        windows: school.windows,
        monthlyCapBytes: school.monthlyCapMb === null ? null : school.monthlyCapMb * MB,
        bytesSentThisMonth: await this.bytesSentThisMonth(schoolId, now),
        storageCapacityBytes: school.storageCapacityMb * MB,
        heldBytes,
      },
      items,
      now,
      broadcast,
    );
    return { schoolId, computedAt: now.toISOString().replace(/\.\d{3}Z$/, 'Z'), ...plan };
  }

  /** Bytes sent to the school this calendar month of its time zone (terminal sync counts them). */
  private async bytesSentThisMonth(schoolId: string, now: Date): Promise<number> {
    const [row] = await this.ds.query<{ bytes: string }[]>(
      `SELECT t.bytes FROM school s JOIN school_traffic t ON t.school_id = s.id
         AND t.month = to_char($2::timestamptz AT TIME ZONE s.timezone, 'YYYY-MM') WHERE s.id = $1`,
      [schoolId, now],
    );
    return row ? Number(row.bytes) : 0;
  }

  async holdings(p: Principal, schoolId: string): Promise<Page<HoldingView>> {
    await this.schools.visible(p, schoolId);
    const rows = await this.ds.query<
      { lesson_id: string; version: number; bytes: string; confirmed_at: Date }[]
    >(
      `SELECT lesson_id, version, bytes, confirmed_at FROM holding WHERE school_id = $1 ORDER BY lesson_id`,
      [schoolId],
    );
    return all(
      rows.map((r) => ({
        lessonId: r.lesson_id,
        version: r.version,
        bytes: Number(r.bytes),
        confirmedAt: r.confirmed_at.toISOString(),
      })),
    );
  }
}
