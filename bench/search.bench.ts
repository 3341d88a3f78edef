/**
 * Lesson search latency with 100,000 lessons in the catalog, through HTTP, as an admin and as a
 * bureau user (whose visibility filter differs). Issue figure: p95 under 50 ms.
 *
 *   npx nest build && npm run bench:search
 *
 * BENCH_SEARCH_LESSONS (default 100000) and BENCH_SEARCH_REQUESTS (default 500) scale it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Api } from './support/api';
import { seedCatalog } from './support/catalog-seed';
import { runBench } from './support/cleanup';
import { connect } from './support/database';
import { searchSql, type SearchParams } from './support/search-sql';
import { startBenchServer } from './support/server';
import { formatTable, median, percentile, round, writeReport } from './support/stats';

const P95_ANCHOR_MS = 50;
const PAGE_SIZE = 20;
const WARMUP = 20;

interface Shape {
  name: string;
  params: Omit<SearchParams, 'pageSize' | 'visibleToBureau'>;
}

/** About twenty shapes of what people type; fragments come from the middle of seeded titles. */
const SHAPES: Shape[] = [
  { name: 'en word (full-text)', params: { q: 'rhythm' } },
  { name: 'en word, rarer', params: { q: 'geometry' } },
  { name: 'en two words', params: { q: 'alphabet and' } },
  { name: 'en prefix fragment', params: { q: 'rhyth' } },
  { name: 'en mid-word fragment', params: { q: 'phabe' } },
  { name: 'zh 1 char', params: { q: '歌' } },
  { name: 'zh 2 chars 音乐', params: { q: '音乐' } },
  { name: 'zh 2 chars 节奏', params: { q: '节奏' } },
  { name: 'zh 3 chars mid-title 乐节奏', params: { q: '乐节奏' } },
  { name: 'zh 4 chars mid-title 节奏练习', params: { q: '节奏练习' } },
  { name: 'zh tag 五声音阶', params: { q: '五声音阶' } },
  { name: 'en tag pentatonic', params: { q: 'pentatonic' } },
  { name: 'no match, en', params: { q: 'quantum' } },
  { name: 'no match, zh', params: { q: '量子力学' } },
  { name: 'filters only music g3', params: { subject: 'music', grade: 3 } },
  { name: 'filters only math g5 zh-CN', params: { subject: 'math', grade: 5, language: 'zh-CN' } },
  { name: 'q + filters 节奏 music g3', params: { q: '节奏', subject: 'music', grade: 3 } },
  { name: 'q + filters phonics english', params: { q: 'phonics', subject: 'english' } },
  { name: 'page 5 of 音乐', params: { q: '音乐', page: 5 } },
  { name: 'page 5, no q', params: { page: 5 } },
  { name: 'no filter (newest)', params: {} },
];

type Role = 'admin' | 'bureau';

interface Sample {
  shape: number;
  role: Role;
  ms: number;
  total: number;
}

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

function queryString(params: Shape['params']): string {
  const qs = new URLSearchParams({ pageSize: String(PAGE_SIZE) });
  for (const [k, v] of Object.entries(params)) qs.set(k, String(v));
  return qs.toString();
}

async function timedSearch(
  baseUrl: string,
  token: string,
  shape: Shape,
): Promise<{ ms: number; total: number }> {
  const started = process.hrtime.bigint();
  const res = await fetch(`${baseUrl}/api/v1/lessons?${queryString(shape.params)}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 200) throw new Error(`${shape.name}: ${res.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { total: number; items: unknown[] };
  return { ms, total: body.total };
}

const stats = (ms: number[]) => ({
  n: ms.length,
  p50: round(percentile(ms, 50), 1),
  p95: round(percentile(ms, 95), 1),
  p99: round(percentile(ms, 99), 1),
  max: round(Math.max(...ms), 1),
});

runBench('search bench', async (cleanup) => {
  const lessonCount = intEnv('BENCH_SEARCH_LESSONS', 100_000);
  const requests = intEnv('BENCH_SEARCH_REQUESTS', 500);
  const workDir = await mkdtemp(join(tmpdir(), 'classcast-bench-search-'));
  cleanup.add(`remove ${workDir}`, () => rm(workDir, { recursive: true, force: true }));

  console.log(`search bench: ${lessonCount} lessons, ${requests} requests (+${WARMUP} warm-up)`);
  const server = await startBenchServer(cleanup, { name: 'search', workDir });
  const api = new Api(server.baseUrl);
  const adminToken = await api.login(server.admin.email, server.admin.password);
  const bureau = await api.createBureauUser(adminToken);
  const tokens: Record<Role, string> = { admin: adminToken, bureau: bureau.token };

  const db = await connect(server.databaseUrl);
  cleanup.add('close pg client', () => db.end());
  const seed = await seedCatalog(db, {
    count: lessonCount,
    ownBureauId: bureau.bureauId,
    regionId: bureau.regionId,
    otherBureaus: 19,
  });
  console.log(
    `  seeded ${seed.lessons} lessons (${seed.published} published, ${seed.drafts} drafts, ` +
      `${seed.retired} retired) in ${seed.seconds.toFixed(1)} s, then VACUUM ANALYZE`,
  );

  // Round robin over shapes; the role flips every full round so each shape gets both.
  const plan = (i: number): { shape: number; role: Role } => ({
    shape: i % SHAPES.length,
    role: Math.floor(i / SHAPES.length) % 2 === 0 ? 'admin' : 'bureau',
  });
  for (let i = 0; i < WARMUP; i++) {
    const { shape, role } = plan(i);
    await timedSearch(server.baseUrl, tokens[role], SHAPES[shape]);
  }
  const load1 = loadavg()[0];
  const samples: Sample[] = [];
  for (let i = 0; i < requests; i++) {
    const { shape, role } = plan(i);
    const r = await timedSearch(server.baseUrl, tokens[role], SHAPES[shape]);
    samples.push({ shape, role, ...r });
  }

  const overall = stats(samples.map((s) => s.ms));
  const byRole = (['admin', 'bureau'] as Role[]).map((role) => ({
    role,
    ...stats(samples.filter((s) => s.role === role).map((s) => s.ms)),
  }));
  const byShape = SHAPES.map((shape, i) => {
    const mine = samples.filter((s) => s.shape === i);
    const admin = mine.filter((s) => s.role === 'admin');
    const own = mine.filter((s) => s.role === 'bureau');
    return {
      shape: shape.name,
      params: shape.params,
      ...stats(mine.map((s) => s.ms)),
      adminP50: round(median(admin.map((s) => s.ms)), 1),
      bureauP50: round(median(own.map((s) => s.ms)), 1),
      matchesAdmin: admin[0]?.total ?? null,
      matchesBureau: own[0]?.total ?? null,
    };
  });

  console.log(
    `\nLesson search, ${lessonCount} lessons, pageSize ${PAGE_SIZE}, ${requests} sequential requests\n`,
  );
  console.log(
    formatTable(
      [
        'shape',
        'n',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'admin p50',
        'bureau p50',
        'total (admin/bureau)',
      ],
      byShape.map((s) => [
        s.shape,
        s.n,
        s.p50.toFixed(1),
        s.p95.toFixed(1),
        s.p99.toFixed(1),
        s.adminP50.toFixed(1),
        s.bureauP50.toFixed(1),
        `${s.matchesAdmin ?? '-'} / ${s.matchesBureau ?? '-'}`,
      ]),
    ),
  );
  console.log('');
  for (const r of byRole) {
    console.log(
      `  as ${r.role.padEnd(6)} p50 ${r.p50} ms  p95 ${r.p95} ms  p99 ${r.p99} ms  (n=${r.n})`,
    );
  }
  console.log(`  overall p50 ${overall.p50} ms  p99 ${overall.p99} ms  max ${overall.max} ms`);
  const pass = overall.p95 < P95_ANCHOR_MS;
  console.log(`\np95 ${overall.p95} ms vs anchor ${P95_ANCHOR_MS} ms: ${pass ? 'PASS' : 'FAIL'}`);

  // Where the slowest shapes spend their time, with the SQL the repository sends.
  const slowest = [...byShape.keys()].sort((a, b) => byShape[b].p95 - byShape[a].p95).slice(0, 3);
  const explained: {
    shape: string;
    role: Role;
    statement: string;
    top: string;
    scans: string[];
    executionMs: number;
  }[] = [];
  console.log('\nEXPLAIN ANALYZE of the 3 slowest shapes (page query, then count query):');
  for (const index of slowest) {
    const shape = SHAPES[index];
    for (const role of ['admin', 'bureau'] as Role[]) {
      const sql = searchSql({
        ...shape.params,
        pageSize: PAGE_SIZE,
        visibleToBureau: role === 'bureau' ? bureau.bureauId : undefined,
      });
      for (const [statement, text, values] of [
        ['page', sql.page, sql.values],
        ['count', sql.count, sql.countValues],
      ] as const) {
        const { rows } = await db.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN (ANALYZE, BUFFERS) ${text}`,
          values,
        );
        const lines = rows.map((r) => r['QUERY PLAN']);
        const executionMs = Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))?.[1] ?? NaN);
        const scans = lines
          .filter((l) => /Scan|Recheck|Rows Removed|Sort Method/.test(l))
          .map((l) => l.trim());
        explained.push({
          shape: shape.name,
          role,
          statement,
          top: lines[0].trim(),
          scans,
          executionMs,
        });
        console.log(
          `\n  [${shape.name} | ${role} | ${statement}] execution ${executionMs.toFixed(1)} ms`,
        );
        console.log(`    ${lines[0].trim()}`);
        for (const line of scans) console.log(`      ${line}`);
      }
    }
  }

  const path = await writeReport('search', {
    bench: 'search',
    at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryMb: Math.round(totalmem() / 1024 / 1024),
      node: process.version,
      load1AtStart: round(load1, 2),
    },
    catalog: seed,
    pageSize: PAGE_SIZE,
    requests,
    warmup: WARMUP,
    anchor: { p95Ms: P95_ANCHOR_MS },
    overall: { ...overall, pass },
    byRole,
    byShape,
    explain: explained,
    notes: [
      'latency = client-side time of one sequential HTTP request (fetch with keep-alive) until its body is read',
      'round robin over shapes; the caller alternates between an admin and a bureau user every full round',
      'lessons seeded with SQL: 90% published, 9% drafts, 1% retired, over 20 bureaus; VACUUM ANALYZE afterwards',
    ],
  });
  console.log(`\nreport: ${path}`);
});
