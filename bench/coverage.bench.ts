/**
 * Coverage at national scale: 64,000 schools in a province/prefecture/county tree, 10,000
 * lessons, 2,000,000 assignments with holdings, bundles and terminals, seeded straight into
 * PostgreSQL; the server's own refresh job rolls them up. Then each coverage route's p50/p95
 * through HTTP, side by side with a plain indexed count over the same tables (the anchor, run
 * directly on PostgreSQL). Issue figure: every route under 200 ms.
 *
 *   npx nest build && npm run bench:coverage
 *
 * BENCH_COVERAGE_SCALE (default 1) shrinks the world (0.1 = 6,400 schools, 200,000 assignments);
 * BENCH_COVERAGE_REQUESTS (default 100) is the number of timed requests per shape.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { Api } from './support/api';
import { runBench } from './support/cleanup';
import { NATIONAL, seedNational } from './support/coverage-seed';
import { connect } from './support/database';
import { sleep, startBenchServer } from './support/server';
import { formatTable, median, percentile, round, writeReport } from './support/stats';

const ROUTE_ANCHOR_MS = 200;
const WARMUP = 10;

function numberEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`${name} must be a positive number`);
  return value;
}

interface Shape {
  name: string;
  path: string;
  accept?: string;
  /** The anchor: a plain indexed count over the same tables, for the same scope. */
  anchor: { sql: string; params: unknown[] };
}

async function timeHttp(url: string, token: string, accept: string): Promise<number> {
  const started = process.hrtime.bigint();
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: accept } });
  await res.arrayBuffer();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return ms;
}

async function timeSql(db: Client, sql: string, params: unknown[]): Promise<number> {
  const started = process.hrtime.bigint();
  await db.query(sql, params);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const SCHOOLS_IN = `FROM school s JOIN region r ON r.id = s.region_id WHERE r.path LIKE $1`;

runBench('coverage bench', async (cleanup) => {
  const scale = numberEnv('BENCH_COVERAGE_SCALE', 1);
  const requests = Math.round(numberEnv('BENCH_COVERAGE_REQUESTS', 100));
  const shape = {
    ...NATIONAL,
    schools: Math.round(NATIONAL.schools * scale),
    lessons: Math.max(100, Math.round(NATIONAL.lessons * scale)),
    assignments: Math.round(NATIONAL.assignments * scale),
  };
  const workDir = await mkdtemp(join(tmpdir(), 'classcast-bench-coverage-'));
  cleanup.add(`remove ${workDir}`, () => rm(workDir, { recursive: true, force: true }));
  console.log(
    `machine: ${cpus().length} cpus, ${round(totalmem() / 2 ** 30)} GiB, load ${loadavg()
      .map((l) => round(l, 2))
      .join(' ')}`,
  );
  // A short refresh interval: the rollup follows the seed within seconds, as in production.
  const refreshSeconds = 5;
  const server = await startBenchServer(cleanup, {
    name: 'coverage',
    workDir,
    extraEnv: { COVERAGE_REFRESH_SECONDS: String(refreshSeconds), NEED_DEBOUNCE_SECONDS: '3600' },
  });
  const db = await connect(server.databaseUrl);
  cleanup.add('close pg client', () => db.end());
  const api = new Api(server.baseUrl);
  const admin = await api.login(server.admin.email, server.admin.password);
  const { bureauId } = await api.createBureauUser(admin);

  console.log(
    `seeding ${shape.schools} schools, ${shape.lessons} lessons, ${shape.assignments} assignments`,
  );
  const seedStarted = Date.now();
  const seedSteps: Record<string, number> = {};
  await seedNational(db, shape, bureauId, (name, ms) => {
    seedSteps[name] = ms;
    console.log(`  ${name}: ${round(ms / 1000)} s`);
  });
  const seedMs = Date.now() - seedStarted;
  const seededAt = new Date();

  // The refresh job drains the changed-school queue in passes of 5,000 schools.
  const rollupStarted = Date.now();
  for (;;) {
    const [row] = (
      await db.query<{ as_of: Date | null; dirty: boolean }>(
        `SELECT as_of, EXISTS (SELECT 1 FROM coverage_dirty) AS dirty FROM coverage_state`,
      )
    ).rows;
    if (row.as_of && row.as_of >= seededAt && !row.dirty) break;
    if (Date.now() - rollupStarted > 30 * 60_000) throw new Error('the rollup never caught up');
    await sleep(500);
  }
  const rollupMs = Date.now() - rollupStarted;
  console.log(`initial rollup by the refresh job: ${round(rollupMs / 1000)} s`);

  const ids = (
    await db.query<{
      province: string;
      pp: string;
      prefecture: string;
      fp: string;
      county: string;
      cp: string;
    }>(
      `SELECT p.id AS province, p.path AS pp, f.id AS prefecture, f.path AS fp,
              c.id AS county, c.path AS cp
       FROM region c JOIN region f ON f.id = c.parent_id JOIN region p ON p.id = f.parent_id
       WHERE c.code = 'NB-03-04-05'`,
    )
  ).rows[0];

  // Figures must agree with the tables before their speed means anything.
  const summary = (await api.call<Record<string, any>>('GET', '/coverage/summary', {
    token: admin,
  })) as {
    schools: number;
    assignments: { total: number; installed: number };
    gaps: { total: number; covered: number };
  };
  const truth = (
    await db.query<{ schools: number; assignments: number; installed: number; gaps: number }>(
      `SELECT (SELECT count(*) FROM school)::int AS schools,
              (SELECT count(*) FROM assignment WHERE revoked_at IS NULL)::int AS assignments,
              (SELECT count(*) FROM holding)::int AS installed,
              (SELECT count(*) FROM school_gap)::int AS gaps`,
    )
  ).rows[0];
  const agree =
    summary.schools === truth.schools &&
    summary.assignments.total === truth.assignments &&
    summary.assignments.installed === truth.installed &&
    summary.gaps.total === truth.gaps;
  console.log(
    `check: summary ${summary.schools} schools / ${summary.assignments.total} assignments / ` +
      `${summary.assignments.installed} installed / ${summary.gaps.total} gaps ` +
      `(${summary.gaps.covered} covered); tables ${truth.schools} / ${truth.assignments} / ` +
      `${truth.installed} / ${truth.gaps}: ${agree ? 'agree' : 'DISAGREE'}`,
  );
  if (!agree) throw new Error('coverage figures disagree with the tables');

  const all = '/%';
  const assignmentsIn = `SELECT count(*) FROM assignment a JOIN school s ON s.id = a.school_id
    JOIN region r ON r.id = s.region_id WHERE a.revoked_at IS NULL AND r.path LIKE $1`;
  const shapes: Shape[] = [
    {
      name: 'summary, national',
      path: '/coverage/summary',
      anchor: { sql: assignmentsIn, params: [all] },
    },
    {
      name: 'summary, province',
      path: `/coverage/summary?regionId=${ids.province}`,
      anchor: { sql: assignmentsIn, params: [`${ids.pp}%`] },
    },
    {
      name: 'summary, county',
      path: `/coverage/summary?regionId=${ids.county}`,
      anchor: { sql: assignmentsIn, params: [`${ids.cp}%`] },
    },
    {
      name: 'regions, roots',
      path: '/coverage/regions',
      anchor: { sql: `SELECT count(*) ${SCHOOLS_IN}`, params: [all] },
    },
    {
      name: 'regions, province children',
      path: `/coverage/regions?parentId=${ids.province}`,
      anchor: {
        sql: `SELECT r.parent_id, count(*) ${SCHOOLS_IN} GROUP BY r.parent_id`,
        params: [`${ids.pp}%`],
      },
    },
    {
      name: 'subjects, national',
      path: '/coverage/subjects',
      anchor: {
        sql: `SELECT g.subject, g.grade, count(*) FROM school_gap g JOIN school s ON s.id = g.school_id
              JOIN region r ON r.id = s.region_id WHERE r.path LIKE $1 GROUP BY 1, 2`,
        params: [all],
      },
    },
    {
      name: 'subjects, prefecture',
      path: `/coverage/subjects?regionId=${ids.prefecture}`,
      anchor: {
        sql: `SELECT g.subject, g.grade, count(*) FROM school_gap g JOIN school s ON s.id = g.school_id
              JOIN region r ON r.id = s.region_id WHERE r.path LIKE $1 GROUP BY 1, 2`,
        params: [`${ids.fp}%`],
      },
    },
    {
      name: 'schools, national p1',
      path: '/coverage/schools',
      anchor: { sql: `SELECT count(*) ${SCHOOLS_IN}`, params: [all] },
    },
    {
      name: 'schools, national p200',
      path: '/coverage/schools?page=200',
      anchor: { sql: `SELECT count(*) ${SCHOOLS_IN}`, params: [all] },
    },
    {
      name: 'schools, national late',
      path: '/coverage/schools?status=late',
      anchor: {
        sql: `SELECT count(DISTINCT a.school_id) FROM assignment a JOIN school s ON s.id = a.school_id
              JOIN region r ON r.id = s.region_id
              LEFT JOIN holding h ON h.school_id = a.school_id AND h.lesson_id = a.lesson_id
              WHERE a.revoked_at IS NULL AND h.school_id IS NULL AND a.due_date < current_date
                AND r.path LIKE $1`,
        params: [all],
      },
    },
    {
      name: 'schools, province stale',
      path: `/coverage/schools?regionId=${ids.province}&status=stale`,
      anchor: {
        sql: `SELECT count(*) ${SCHOOLS_IN} AND NOT EXISTS (SELECT 1 FROM terminal t
              WHERE t.school_id = s.id AND t.last_seen_at >= now() - interval '24 hours')`,
        params: [`${ids.pp}%`],
      },
    },
    {
      name: 'schools, county uncovered',
      path: `/coverage/schools?regionId=${ids.county}&status=uncovered`,
      anchor: { sql: `SELECT count(*) ${SCHOOLS_IN}`, params: [`${ids.cp}%`] },
    },
    {
      name: 'schools, national CSV 500',
      path: '/coverage/schools?pageSize=500',
      accept: 'text/csv',
      anchor: { sql: `SELECT count(*) ${SCHOOLS_IN}`, params: [all] },
    },
  ];

  const rows: (string | number)[][] = [];
  const results: Record<string, unknown>[] = [];
  for (const s of shapes) {
    const url = `${server.baseUrl}/api/v1${s.path}`;
    const accept = s.accept ?? 'application/json';
    for (let i = 0; i < WARMUP; i++) await timeHttp(url, admin, accept);
    const ours: number[] = [];
    for (let i = 0; i < requests; i++) ours.push(await timeHttp(url, admin, accept));
    const anchorRuns = Math.max(5, Math.round(requests / 5));
    await timeSql(db, s.anchor.sql, s.anchor.params);
    const anchor: number[] = [];
    for (let i = 0; i < anchorRuns; i++)
      anchor.push(await timeSql(db, s.anchor.sql, s.anchor.params));
    const r = {
      shape: s.name,
      p50: round(median(ours), 1),
      p95: round(percentile(ours, 95), 1),
      anchorP50: round(median(anchor), 1),
      anchorP95: round(percentile(anchor, 95), 1),
    };
    results.push({ ...r, requests, anchorRuns });
    rows.push([
      r.shape,
      r.p50,
      r.p95,
      r.anchorP50,
      r.anchorP95,
      round(r.p95 / r.anchorP95, 2),
      r.p95 < ROUTE_ANCHOR_MS ? 'yes' : 'NO',
    ]);
  }
  console.log('');
  console.log(
    formatTable(
      [
        'route',
        'p50 ms',
        'p95 ms',
        'count p50',
        'count p95',
        'p95 ratio',
        `<${ROUTE_ANCHOR_MS} ms`,
      ],
      rows,
    ),
  );

  // Freshness: 1,000 receipts land (holdings); how long until asOf covers them?
  const changedAt = new Date();
  await db.query(
    `INSERT INTO holding (school_id, lesson_id, version, bytes)
     SELECT a.school_id, a.lesson_id, 1, 0 FROM assignment a
     LEFT JOIN holding h ON h.school_id = a.school_id AND h.lesson_id = a.lesson_id
     WHERE h.school_id IS NULL LIMIT 1000`,
  );
  let lagMs = 0;
  for (;;) {
    const [row] = (await db.query<{ as_of: Date | null }>(`SELECT as_of FROM coverage_state`)).rows;
    if (row.as_of && row.as_of >= changedAt) {
      lagMs = Date.now() - changedAt.getTime();
      break;
    }
    if (Date.now() - changedAt.getTime() > 120_000)
      throw new Error('the change was never folded in');
    await sleep(100);
  }
  const installedAfter = (
    await api.call<{ assignments: { installed: number } }>('GET', '/coverage/summary', {
      token: admin,
    })
  ).assignments.installed;
  console.log(
    `freshness: 1,000 new holdings visible after ${round(lagMs / 1000, 1)} s ` +
      `(refresh every ${refreshSeconds} s); installed ${summary.assignments.installed} -> ${installedAfter}`,
  );

  const path = await writeReport('coverage', {
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, memGiB: round(totalmem() / 2 ** 30), load: loadavg() },
    shape,
    requestsPerShape: requests,
    seedMs,
    seedSteps,
    initialRollupMs: rollupMs,
    freshness: { holdingsAdded: 1000, visibleAfterMs: lagMs, refreshSeconds },
    routes: results,
  });
  console.log(`report: ${path}`);
});
