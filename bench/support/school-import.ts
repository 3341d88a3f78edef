import { spawn } from 'node:child_process';
import type { Client } from 'pg';
import type { Api } from './api';
import { serverSeconds, waitForJob } from './jobs';
import { RssSampler } from './rss';
import { COPY_COLUMNS, type SchoolRow } from './school-rows';

export interface ImportResult {
  rows: number;
  inserted: number;
  updated: number;
  rejected: { line: number; code?: string; field?: string; reason: string; message?: string }[];
  rejectedTotal: number;
}

export interface MeasuredImport {
  /** POST /schools/import until GET /jobs/:id says completed, on the client's clock. */
  seconds: number;
  /** The upload alone: POST until its 202. */
  postSeconds: number;
  /** The job record's creation to its end. */
  jobSeconds: number | null;
  peakRssMb: number;
  result: ImportResult;
}

const elapsed = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

/** Uploads `csv` as a text/csv body and waits for the import job, sampling the server's RSS. */
export async function measureImport(
  api: Api,
  token: string,
  csv: Buffer,
  serverPid: number,
): Promise<MeasuredImport> {
  const sampler = new RssSampler(serverPid, 100);
  sampler.start();
  try {
    const started = process.hrtime.bigint();
    const res = await fetch(`${api.baseUrl}/api/v1/schools/import`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/csv; charset=utf-8' },
      body: csv,
    });
    const text = await res.text();
    if (res.status !== 202) throw new Error(`POST /schools/import answered ${res.status}: ${text}`);
    const postSeconds = elapsed(started);
    const { jobId } = JSON.parse(text) as { jobId: string };
    const job = await waitForJob<ImportResult>(api, token, jobId, {
      intervalMs: 200,
      timeoutMs: 30 * 60_000,
    });
    const seconds = elapsed(started);
    if (!job.result) throw new Error(`import job ${jobId} completed without a result`);
    return {
      seconds,
      postSeconds,
      jobSeconds: serverSeconds(job),
      peakRssMb: sampler.stop().peakMb,
      result: job.result,
    };
  } finally {
    sampler.stop();
  }
}

function runPsql(url: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', command], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`psql exited with ${code}: ${err.trim()}`)),
    );
  });
}

/**
 * The anchor: psql's \copy of the same rows (as stored values) into a scratch table shaped like
 * `school`: `plain` has its columns, defaults and NOT NULLs only; `indexed` also has its primary
 * key, unique code, checks and indexes (the trigram GIN index included), so the difference
 * between the two is what index upkeep costs PostgreSQL itself. Includes psql's start-up.
 */
export async function copyAnchor(
  db: Client,
  databaseUrl: string,
  file: string,
  kind: 'plain' | 'indexed',
  rows: number,
): Promise<number> {
  const table = `bench_copy_${kind}`;
  await db.query(`DROP TABLE IF EXISTS ${table}`);
  await db.query(
    `CREATE TABLE ${table} (LIKE school INCLUDING ${kind === 'plain' ? 'DEFAULTS' : 'ALL'})`,
  );
  try {
    await db.query('CHECKPOINT');
    const started = process.hrtime.bigint();
    await runPsql(
      databaseUrl,
      `\\copy ${table} (${COPY_COLUMNS.join(', ')}) FROM '${file.replace(/'/g, "''")}' WITH (FORMAT csv)`,
    );
    const seconds = elapsed(started);
    const { rows: counted } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table}`,
    );
    if (counted[0].n !== rows) throw new Error(`COPY loaded ${counted[0].n} rows, not ${rows}`);
    return seconds;
  } finally {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
  }
}

/** What a finished import should have left: every row in, nothing rejected, names intact. */
export async function checkImport(
  db: Client,
  imported: MeasuredImport,
  rows: SchoolRow[],
  provincePath: string,
): Promise<string[]> {
  const problems: string[] = [];
  const r = imported.result;
  if (r.rows !== rows.length) problems.push(`rows ${r.rows}, expected ${rows.length}`);
  if (r.inserted !== rows.length) problems.push(`inserted ${r.inserted}, expected ${rows.length}`);
  if (r.rejectedTotal !== 0) {
    problems.push(`${r.rejectedTotal} rejected, first: ${JSON.stringify(r.rejected.slice(0, 3))}`);
  }
  const { rows: counts } = await db.query<{ schools: number; gaps: number }>(
    `SELECT count(DISTINCT s.id)::int AS schools, count(g.*)::int AS gaps
     FROM school s JOIN region r ON r.id = s.region_id LEFT JOIN school_gap g ON g.school_id = s.id
     WHERE r.path LIKE $1 || '%'`,
    [provincePath],
  );
  const expectedGaps = rows.reduce(
    (n, s) => n + s.teacherGaps.reduce((m, g) => m + g.grades.length, 0),
    0,
  );
  if (counts[0].schools !== rows.length) problems.push(`${counts[0].schools} schools stored`);
  if (counts[0].gaps !== expectedGaps) {
    problems.push(`${counts[0].gaps} school_gap rows stored, expected ${expectedGaps}`);
  }
  // Names that need CSV quoting or lie outside the BMP must come back exactly as written.
  const tricky = rows.filter((s) => /[",]|[\u{10000}-\u{10ffff}]|[\u3400-\u4dbf]/u.test(s.name));
  const sample = tricky.slice(0, 200);
  const { rows: stored } = await db.query<{ code: string; name: string }>(
    `SELECT code, name FROM school WHERE code = ANY($1::text[])`,
    [sample.map((s) => s.code)],
  );
  const byCode = new Map(stored.map((s) => [s.code, s.name]));
  const garbled = sample.filter((s) => byCode.get(s.code) !== s.name);
  if (garbled.length) problems.push(`${garbled.length} names changed, e.g. ${garbled[0].name}`);
  return problems;
}
