/**
 * Schools at provincial scale, three issue figures in one run, each beside its anchor:
 *  1. import 64,000 schools from CSV in under 60 s, against PostgreSQL's own COPY of the rows;
 *  2. gap matching over those schools and 5,000 published lessons in under 60 s, RSS < 500 MB;
 *  3. one request assigning a course to a province of 10,000 schools, done in under 10 s.
 *
 *   npx nest build && npm run bench:schools
 *
 * BENCH_SCHOOLS (64000), BENCH_LESSONS (5000), BENCH_COURSES (300), BENCH_ASSIGN_SCHOOLS (10000)
 * and BENCH_COURSE_LESSONS (10) scale it; BENCH_COPY_RUNS (3) repeats the COPY anchor.
 * Profiling knobs: BENCH_SERVER_PGOPTIONS is handed to the server's PostgreSQL connections as
 * PGOPTIONS (e.g. `-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=500`);
 * BENCH_NEED_DEBOUNCE_SECONDS (5) above 60 keeps the need-change jobs out of the run;
 * BENCH_PG_SAMPLE_MS (100, 0 = off) samples pg_stat_activity; BENCH_EXPLAIN=0 skips the EXPLAINs.
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Api } from './support/api';
import { runBench } from './support/cleanup';
import { connect } from './support/database';
import { drainNeedChanges } from './support/jobs';
import { describeBacklog, waitForIdleQueues, type QueueBacklog } from './support/queues';
import { seedPublishedCatalog } from './support/match-seed';
import { createProvinceTree } from './support/region-tree';
import { explainHeavyStatements, printExplained, type Explained } from './support/schools-explain';
import { PgActivitySampler, printActivity, type ActivityProfile } from './support/pg-activity';
import { memoryOf } from './support/rss';
import { checkImport, copyAnchor, measureImport } from './support/school-import';
import { copyCsv, generateSchools, schoolCsv } from './support/school-rows';
import { assignCourse, createPublishedCourse, runMatch } from './support/school-scenarios';
import { startBenchServer } from './support/server';
import { formatTable, median, round, writeReport } from './support/stats';

const IMPORT_LIMIT_S = 60;
const MATCH_LIMIT_S = 60;
const MATCH_RSS_LIMIT_MB = 500;
const ASSIGN_LIMIT_S = 10;
const DRAIN_TIMEOUT_MS = 20 * 60_000;

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

runBench('schools bench', async (cleanup) => {
  const schoolCount = intEnv('BENCH_SCHOOLS', 64_000);
  const lessonCount = intEnv('BENCH_LESSONS', 5_000);
  const courseCount = intEnv('BENCH_COURSES', 300);
  const assignSchools = intEnv('BENCH_ASSIGN_SCHOOLS', 10_000);
  const courseLessons = intEnv('BENCH_COURSE_LESSONS', 10);
  const copyRuns = intEnv('BENCH_COPY_RUNS', 3);
  // Profiling only: a debounce longer than the run keeps the need-change jobs out of the figures.
  const debounceSeconds = intEnv('BENCH_NEED_DEBOUNCE_SECONDS', 5);
  const drainTimeoutMs = debounceSeconds > 60 ? 0 : DRAIN_TIMEOUT_MS;
  const workDir = await mkdtemp(join(tmpdir(), 'classcast-bench-schools-'));
  cleanup.add(`remove ${workDir}`, () => rm(workDir, { recursive: true, force: true }));
  console.log(
    `schools bench: ${schoolCount} schools, ${lessonCount} lessons, ${courseCount} courses; ` +
      `assign ${courseLessons} lessons to ${assignSchools} schools`,
  );

  const pgOptions = process.env.BENCH_SERVER_PGOPTIONS;
  const server = await startBenchServer(cleanup, {
    name: 'schools',
    workDir,
    extraEnv: {
      NEED_DEBOUNCE_SECONDS: String(debounceSeconds),
      ASSIGN_SYNC_LIMIT: '1000',
      ...(pgOptions ? { PGOPTIONS: pgOptions } : {}),
    },
  });
  const api = new Api(server.baseUrl);
  const adminToken = await api.login(server.admin.email, server.admin.password);
  const db = await connect(server.databaseUrl);
  cleanup.add('close pg client', () => db.end());
  const [{ id: adminId }] = (
    await db.query<{ id: string }>(`SELECT id FROM app_user WHERE lower(email) = lower($1)`, [
      server.admin.email,
    ])
  ).rows;
  const load1 = loadavg()[0];
  // A second connection samples what the server's connections run during each figure.
  const sampleMs = process.env.BENCH_PG_SAMPLE_MS === '0' ? 0 : intEnv('BENCH_PG_SAMPLE_MS', 100);
  const probe = await connect(server.databaseUrl);
  cleanup.add('close pg probe', () => probe.end());
  const databaseName = new URL(server.databaseUrl).pathname.slice(1);
  const profiles: Record<string, ActivityProfile> = {};
  // Wall-clock bounds of each figure, to line up with a server CPU profile or the PostgreSQL log.
  const phases: Record<string, { from: string; to: string; load1AtStart: number }> = {};
  const profiled = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const sampler = new PgActivitySampler(probe, databaseName, sampleMs);
    const from = new Date().toISOString();
    const load = round(loadavg()[0], 2);
    sampler.start();
    try {
      return await work();
    } finally {
      phases[name] = { from, to: new Date().toISOString(), load1AtStart: load };
      profiles[name] = await sampler.stop();
    }
  };

  /** Need changes folded, then every queue empty: what one figure set off is over. */
  const settle = async (after: string): Promise<{ events: unknown; queues: QueueBacklog }> => {
    const events = await drainNeedChanges(db, drainTimeoutMs);
    const queues = await waitForIdleQueues(server.redisPrefix, drainTimeoutMs);
    console.log(
      `  after ${after}: ${events.pendingAtStart} need changes folded in ${fmt(events.seconds)} s; ${describeBacklog(queues)}`,
    );
    return { events, queues };
  };

  // The assign figure's course first: its renditions settle long before it is measured.
  // Ethics: no school lacks an ethics teacher, so gap matching never picks it.
  const bureauB = await api.createBureauUser(adminToken);
  const course = await createPublishedCourse(api, bureauB.token, workDir, courseLessons);

  // 1. Import: a province of 20 prefectures and 200 counties, its schools in one CSV.
  const treeA = await createProvinceTree(api, adminToken, {
    code: 'GS',
    name: '基准省',
    prefectures: 20,
    countiesEach: 10,
  });
  const rowsA = generateSchools(schoolCount, treeA.counties, 'GS', 20_261_128);
  const csvA = schoolCsv(rowsA);
  const copyFile = join(workDir, 'schools-a.copy.csv');
  await writeFile(join(workDir, 'schools-a.csv'), csvA);
  await writeFile(copyFile, copyCsv(rowsA, treeA.ids));
  const [{ path: pathA }] = (
    await db.query<{ path: string }>(`SELECT path FROM region WHERE id = $1`, [treeA.provinceId])
  ).rows;
  console.log(`  CSV: ${rowsA.length} rows, ${(csvA.length / 1024 / 1024).toFixed(1)} MB`);

  // The anchor first, on an idle database: the import leaves a backlog of need-change jobs.
  const copyPlain: number[] = [];
  const copyIndexed: number[] = [];
  for (let i = 0; i < copyRuns; i++) {
    copyPlain.push(await copyAnchor(db, server.databaseUrl, copyFile, 'plain', rowsA.length));
    copyIndexed.push(await copyAnchor(db, server.databaseUrl, copyFile, 'indexed', rowsA.length));
  }
  const copyPlainS = median(copyPlain);
  const copyIndexedS = median(copyIndexed);
  console.log(
    `  COPY anchor (median of ${copyRuns}): plain ${fmt(copyPlainS, 2)} s, with school's indexes ${fmt(copyIndexedS, 2)} s`,
  );
  await db.query('CHECKPOINT');
  const imported = await profiled('import', () => measureImport(api, adminToken, csvA, server.pid));
  console.log(
    `  import: ${fmt(imported.seconds)} s (upload ${fmt(imported.postSeconds, 2)} s), peak RSS ${fmt(imported.peakRssMb, 0)} MB`,
  );
  const importProblems = await checkImport(db, imported, rowsA, pathA);
  for (const p of importProblems) console.log(`  ! import check: ${p}`);
  const drainA = await settle('the import');

  // 3. One course to every school of another province, as that province's bureau; before the
  // matching, whose packaging tail (a plan for each of its schools) takes many minutes to clear.
  const treeB = await createProvinceTree(api, adminToken, {
    code: 'QH',
    prefectures: 5,
    countiesEach: 10,
    provinceId: bureauB.regionId,
  });
  const rowsB = generateSchools(assignSchools, treeB.counties, 'QH', 20_261_129);
  const importedB = await measureImport(api, bureauB.token, schoolCsv(rowsB), server.pid);
  const [{ path: pathB }] = (
    await db.query<{ path: string }>(`SELECT path FROM region WHERE id = $1`, [bureauB.regionId])
  ).rows;
  const importBProblems = await checkImport(db, importedB, rowsB, pathB);
  for (const p of importBProblems) console.log(`  ! import check (assign province): ${p}`);
  console.log(
    `  imported the ${rowsB.length} schools of the assign province in ${fmt(importedB.seconds)} s`,
  );
  const drainB = await settle('importing the assign province');
  await db.query('ANALYZE school, region, assignment, school_event');
  const assigned = await profiled('assign', () =>
    assignCourse(api, bureauB.token, db, course, bureauB.regionId),
  );
  const expectedPairs = rowsB.length * courseLessons;
  console.log(
    `  assign: ${fmt(assigned.seconds, 2)} s (${assigned.mode}), created ${assigned.created}, existing ${assigned.existing}`,
  );
  const drainAssign = await settle('the assign');

  // 2. Gap matching over the whole province, measured last.
  const bureauA = await api.call<{ id: string }>('POST', '/bureaus', {
    token: adminToken,
    body: { name: '基准省教育厅资源中心', regionId: treeA.provinceId },
  });
  const catalog = await seedPublishedCatalog(db, {
    lessons: lessonCount,
    courses: courseCount,
    bureauId: bureauA.id,
    createdBy: adminId,
  });
  console.log(
    `  seeded ${catalog.lessons} published lessons (avg ${catalog.avgLessonMb} MB, ` +
      `${Math.round(catalog.teacherlessShare * 100)}% teacherless-ready), ${catalog.courses} courses in ${fmt(catalog.seconds)} s`,
  );
  // As autovacuum would have by now; makes the plans independent of its timing.
  await db.query('ANALYZE school, school_gap, region, assignment, school_event');
  const match = await profiled('match', () =>
    runMatch(api, adminToken, db, server.pid, treeA.provinceId),
  );
  console.log(
    `  matching: ${fmt(match.seconds)} s, peak RSS ${fmt(match.peakRssMb, 0)} MB (baseline ${fmt(match.baselineRssMb, 0)} MB)`,
  );
  // Matching runs last: what it sets off (a packaging plan for every school) is not waited for.
  const matchTail = await waitForIdleQueues(server.redisPrefix, 0);
  console.log(`  left behind by matching (not waited for): ${describeBacklog(matchTail)}`);

  const importPass = imported.seconds < IMPORT_LIMIT_S && importProblems.length === 0;
  const matchPass = match.seconds < MATCH_LIMIT_S;
  const rssPass = match.peakRssMb < MATCH_RSS_LIMIT_MB;
  const assignPass = assigned.seconds < ASSIGN_LIMIT_S && assigned.created === expectedPairs;
  const n = (x: number) => x.toLocaleString('en-US');
  console.log(
    `\nSchools at provincial scale (${cpus().length} CPUs; 1-min load average at the start of ` +
      `${Object.entries(phases)
        .map(([name, p]) => `${name} ${fmt(p.load1AtStart, 1)}`)
        .join(', ')})\n`,
  );
  console.log(
    formatTable(
      ['figure', 'ours', 'anchor', 'ours / anchor', 'limit', 'verdict'],
      [
        [
          `import ${n(rowsA.length)} schools (CSV -> job done)`,
          `${fmt(imported.seconds)} s`,
          `COPY ${fmt(copyPlainS, 2)} s`,
          `${fmt(imported.seconds / copyPlainS)}x`,
          `< ${IMPORT_LIMIT_S} s`,
          verdict(importPass),
        ],
        [
          '  same, anchor with school indexes',
          '',
          `COPY ${fmt(copyIndexedS, 2)} s`,
          `${fmt(imported.seconds / copyIndexedS)}x`,
          '',
          '',
        ],
        [
          `gap matching ${n(schoolCount)} schools x ${n(catalog.lessons)} lessons`,
          `${fmt(match.seconds)} s`,
          '-',
          '-',
          `< ${MATCH_LIMIT_S} s`,
          verdict(matchPass),
        ],
        [
          '  peak RSS during matching',
          `${fmt(match.peakRssMb, 0)} MB`,
          '-',
          '-',
          `< ${MATCH_RSS_LIMIT_MB} MB`,
          verdict(rssPass),
        ],
        [
          `assign ${courseLessons}-lesson course to ${n(rowsB.length)} schools`,
          `${fmt(assigned.seconds, 2)} s`,
          '-',
          '-',
          `< ${ASSIGN_LIMIT_S} s`,
          verdict(assignPass),
        ],
      ],
    ),
  );
  const m = match.result;
  console.log(
    `\n  import result: rows ${n(imported.result.rows)}, inserted ${n(imported.result.inserted)}, ` +
      `updated ${imported.result.updated}, rejected ${imported.result.rejectedTotal}`,
  );
  console.log(
    `  matching result: gaps ${n(m.gaps)}, filled ${n(m.filled)}, created ${n(m.created)}, ` +
      `proposalsTotal ${n(m.proposalsTotal)} (assignments stored: ${n(match.storedAssignments)})`,
  );
  console.log(
    `  assign result: created ${n(assigned.created)} of ${n(expectedPairs)} expected, ` +
      `existing ${assigned.existing} (stored for the course: ${n(assigned.stored)})`,
  );

  if (sampleMs > 0) printActivity(profiles, sampleMs);

  let explained: Explained[] = [];
  if (process.env.BENCH_EXPLAIN !== '0') {
    explained = await explainHeavyStatements(db, {
      matchProvincePath: pathA,
      assignProvincePath: pathB,
      assignScopePath: pathB,
      lessonCount: courseLessons,
      excludeLessonIds: course.lessonIds,
      userId: adminId,
    });
    printExplained(explained);
  }

  const path = await writeReport('schools', {
    bench: 'schools',
    at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryMb: Math.round(totalmem() / 1024 / 1024),
      node: process.version,
      load1AtStart: round(load1, 2),
    },
    sizes: { schoolCount, lessonCount, courseCount, assignSchools, courseLessons },
    needDebounceSeconds: debounceSeconds,
    import: {
      schools: rowsA.length,
      csvBytes: csvA.length,
      seconds: round(imported.seconds, 2),
      uploadSeconds: round(imported.postSeconds, 3),
      jobSeconds: imported.jobSeconds === null ? null : round(imported.jobSeconds, 2),
      peakRssMb: round(imported.peakRssMb, 0),
      // Objects, not number arrays: Prettier would fold those onto one line and flag the report.
      copyRuns: copyPlain.map((plain, i) => ({
        plainSeconds: round(plain, 3),
        indexedSeconds: round(copyIndexed[i], 3),
      })),
      ratioVsCopy: round(imported.seconds / copyPlainS, 1),
      ratioVsIndexedCopy: round(imported.seconds / copyIndexedS, 1),
      limitSeconds: IMPORT_LIMIT_S,
      pass: importPass,
      result: { ...imported.result, rejected: imported.result.rejected.slice(0, 20) },
      problems: importProblems,
      needChangeDrain: drainA,
    },
    match: {
      catalog,
      seconds: round(match.seconds, 2),
      jobSeconds: match.jobSeconds === null ? null : round(match.jobSeconds, 2),
      baselineRssMb: round(match.baselineRssMb, 0),
      peakRssMb: round(match.peakRssMb, 0),
      rssSamples: match.rssSamples,
      limitSeconds: MATCH_LIMIT_S,
      rssLimitMb: MATCH_RSS_LIMIT_MB,
      pass: matchPass && rssPass,
      result: { ...m, proposals: m.proposals.slice(0, 5) },
      storedAssignments: match.storedAssignments,
      backlogLeftBehind: matchTail,
    },
    assign: {
      schools: rowsB.length,
      lessons: course.lessonIds.length,
      importSeconds: round(importedB.seconds, 2),
      importProblems: importBProblems,
      needChangeDrainBefore: drainB,
      needChangeDrainAfter: drainAssign,
      mode: assigned.mode,
      seconds: round(assigned.seconds, 3),
      jobSeconds: assigned.jobSeconds === null ? null : round(assigned.jobSeconds, 3),
      created: assigned.created,
      existing: assigned.existing,
      stored: assigned.stored,
      expected: expectedPairs,
      limitSeconds: ASSIGN_LIMIT_S,
      pass: assignPass,
    },
    phases,
    databaseActivity: profiles,
    explain: explained,
    serverRssAtEndMb: round(memoryOf(server.pid).rssMb, 0),
    notes: [
      'ours = client clock from the POST to the GET /jobs/:id poll (every 200 ms) that says completed',
      'COPY anchor = psql \\copy of the same rows as stored values (CSV format) into LIKE school; ' +
        'plain: defaults only; indexed: INCLUDING ALL (PK, unique code, checks, region and trigram indexes); median of runs; measured before our import on an idle database',
      `need-change jobs (NEED_DEBOUNCE_SECONDS=${debounceSeconds}) run during the import and the matching, as in production; the backlog is drained before the next figure (not when the debounce is over 60 s)`,
      'lessons and courses for matching are seeded with SQL (blob rows only, no bytes: their renditions fail and fall back); the assign course (ethics, which no school lacks, so matching never picks it) is made through the API (upload, publish, POST /courses) before the import',
      'before each figure the bench waits until need changes are folded and every queue is empty (packaging plans, renditions), up to 20 min; matching runs last and its packaging tail is not waited for',
      'the assign runs before matching, so the assignment table holds the 100,000 new rows only; the EXPLAIN of createForTarget at the end runs on the table matching filled (2.5M rows), with the packaging tail still running',
      'ANALYZE of school, school_gap, region, assignment before matching and assigning',
    ],
  });
  console.log(`\nreport: ${path}`);
});
