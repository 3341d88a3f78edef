import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { MetricsService } from '../metrics/metrics.service';
import { CoverageRepository } from './coverage.repository';

/**
 * Gauges read from PostgreSQL at scrape time, so every replica reports the same figures:
 * coverage per province, terminals seen, bundles by state, and how old the rollup is.
 */
@Injectable()
export class CoverageMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly repo: CoverageRepository,
    @InjectDataSource() private readonly ds: DataSource,
  ) {}

  onModuleInit(): void {
    const registers = [this.metrics.registry];
    const repo = this.repo;
    const ds = this.ds;
    new Gauge({
      name: 'classcast_coverage_ratio',
      help: 'Teacher gaps with an installed lesson / teacher gaps, per province (1 without gaps)',
      labelNames: ['province'],
      registers,
      async collect() {
        this.reset();
        for (const p of await repo.provinces()) {
          const gaps = Number(p.gaps);
          this.set({ province: p.code }, gaps === 0 ? 1 : Number(p.covered) / gaps);
        }
      },
    });
    new Gauge({
      name: 'classcast_province_terminals',
      help: 'Active terminals per province: all, and seen in the last 24 h',
      labelNames: ['province', 'seen'],
      registers,
      async collect() {
        this.reset();
        for (const p of await repo.provinces()) {
          this.set({ province: p.code, seen: '24h' }, Number(p.seen));
          this.set({ province: p.code, seen: 'any' }, Number(p.total));
        }
      },
    });
    new Gauge({
      name: 'classcast_terminals_seen',
      help: 'Active terminals that called in within the window',
      labelNames: ['window'],
      registers,
      async collect() {
        const [row] = await ds.query<{ h1: number; h24: number; total: number }[]>(
          `SELECT count(*) FILTER (WHERE last_seen_at >= now() - interval '1 hour')::int AS h1,
                  count(*) FILTER (WHERE last_seen_at >= now() - interval '24 hours')::int AS h24,
                  count(*)::int AS total
           FROM terminal WHERE revoked_at IS NULL`,
        );
        this.set({ window: '1h' }, row.h1);
        this.set({ window: '24h' }, row.h24);
        this.set({ window: 'ever' }, row.total);
      },
    });
    new Gauge({
      name: 'classcast_bundles',
      help: 'Bundles by state (ready = built, failed = failed after the last attempt)',
      labelNames: ['state'],
      registers,
      async collect() {
        const rows = await ds.query<{ state: string; n: number }[]>(
          `SELECT state, count(*)::int AS n FROM bundle GROUP BY state`,
        );
        this.reset();
        for (const s of ['queued', 'building', 'ready', 'failed', 'superseded']) {
          this.set({ state: s }, rows.find((r) => r.state === s)?.n ?? 0);
        }
      },
    });
    new Gauge({
      name: 'classcast_coverage_lag_seconds',
      help: 'Seconds between now and the time the coverage rollup reflects',
      registers,
      async collect() {
        const asOf = await repo.asOf();
        this.set(asOf ? Math.max(0, (Date.now() - asOf.getTime()) / 1000) : -1);
      },
    });
  }
}
