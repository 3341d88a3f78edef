import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface DayCounts {
  installs: Map<string, number>;
  bundles: Map<string, { bundles: number; sourceBytes: number; bundleBytes: number }>;
}

/** Day-by-day activity of the schools under a region path, for the dashboard's charts. */
@Injectable()
export class DashboardRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async activitySince(since: Date, scopePath: string | null): Promise<DayCounts> {
    const scope = scopePath === null ? '%' : `${scopePath}%`;
    const installs = await this.ds.query<{ day: string; n: string }[]>(
      `SELECT to_char(h.confirmed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS n
         FROM holding h
         JOIN school s ON s.id = h.school_id
         JOIN region r ON r.id = s.region_id
        WHERE h.confirmed_at >= $1 AND r.path LIKE $2
        GROUP BY 1`,
      [since, scope],
    );
    // A bundle shared by several schools counts once: it is built (and saved on) once.
    const bundles = await this.ds.query<
      { day: string; n: string; source: string | null; built: string | null }[]
    >(
      `SELECT to_char(b.ready_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS n,
              sum(b.source_bytes) AS source, sum(b.bundle_bytes) AS built
         FROM bundle b
        WHERE b.ready_at >= $1
          AND b.bundle_bytes IS NOT NULL
          AND EXISTS (SELECT 1 FROM bundle_school bs
                        JOIN school s ON s.id = bs.school_id
                        JOIN region r ON r.id = s.region_id
                       WHERE bs.bundle_id = b.id AND r.path LIKE $2)
        GROUP BY 1`,
      [since, scope],
    );
    return {
      installs: new Map(installs.map((r) => [r.day, Number(r.n)])),
      bundles: new Map(
        bundles.map((r) => [
          r.day,
          {
            bundles: Number(r.n),
            sourceBytes: Number(r.source ?? 0),
            bundleBytes: Number(r.built ?? 0),
          },
        ]),
      ),
    };
  }
}
