import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { bulkWriteRunning, holdBulkWrite } from '../src/database/bulk-write';
import { CoverageRefresher } from '../src/modules/coverage/coverage.refresher';
import { CoverageService } from '../src/modules/coverage/coverage.service';
import {
  Actor,
  createBureauUser,
  createRegion,
  createViewer,
  loginAdmin,
  publishedLesson,
  school,
} from './support/factories';
import { TestApp, startTestApp } from './support/test-app';

type Json = Record<string, any>;

/** Parses the CSV the coverage routes write (quoted cells, CRLF, a BOM first). */
function parseCsv(text: string): string[][] {
  expect(text.charCodeAt(0)).toBe(0xfeff);
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const body = text.slice(1);
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && body[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

const csvRecords = (text: string): Record<string, string>[] => {
  const [header, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
};

describe('coverage: rollups, scoping, CSV and metrics', () => {
  let t: TestApp;
  let ds: DataSource;
  let admin: Actor;
  let bureau: Actor;
  let prefectureViewer: Actor;
  let countyViewer: Actor;
  const region: Record<string, { id: string; code: string }> = {};
  const schoolId: Record<string, string> = {};
  const lesson: Record<string, string> = {};
  const assignmentId: Record<string, string> = {};
  const as = (a: Actor) => ({ Authorization: `Bearer ${a.token}` });
  const EVIL = '=HYPERLINK("http://evil.example/x","click")';

  const get = async (a: Actor, path: string, status = 200): Promise<Json> =>
    (await t.http().get(`/api/v1/coverage/${path}`).set(as(a)).expect(status)).body as Json;

  /** Runs refresh passes until the queue of changes is drained (the timer may hold the lock). */
  const refreshNow = async () => {
    const refresher = t.app.get(CoverageRefresher);
    for (let i = 0; i < 200; i++) {
      const r = await refresher.refresh();
      if (r.drained && r.asOf) return r;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error('coverage refresh never drained');
  };

  const addTerminal = async (school: string, lastSeen: string | null) => {
    await ds.query(
      `INSERT INTO terminal (school_id, name, token_hash, last_seen_at) VALUES ($1, 'box', $2, $3)`,
      [school, randomBytes(32), lastSeen],
    );
  };

  beforeAll(async () => {
    // Packaging waits an hour, so the only bundles are the ones this spec writes.
    t = await startTestApp({ COVERAGE_REFRESH_SECONDS: '1', NEED_DEBOUNCE_SECONDS: '3600' });
    ds = t.app.get(DataSource);
    admin = await loginAdmin(t);
    bureau = await createBureauUser(t, admin);
    region.province = await createRegion(t, admin, { name: '甘肃省' });
    region.prefecture = await createRegion(t, admin, {
      level: 'prefecture',
      parentId: region.province.id,
    });
    region.county1 = await createRegion(t, admin, {
      level: 'county',
      parentId: region.prefecture.id,
    });
    region.county2 = await createRegion(t, admin, {
      level: 'county',
      parentId: region.prefecture.id,
    });
    region.elsewhere = await createRegion(t, admin);
    prefectureViewer = await createViewer(t, admin, region.prefecture.id);
    countyViewer = await createViewer(t, admin, region.county2.id);

    const create = async (key: string, regionKey: string, extra: Json) => {
      const res = await t
        .http()
        .post('/api/v1/schools')
        .set(as(admin))
        .send(school(`CV-${key}-${randomBytes(3).toString('hex')}`, region[regionKey].id, extra))
        .expect(201);
      schoolId[key] = res.body.id as string;
    };
    await create('s1', 'county1', {
      pupils: 100,
      teacherGaps: [{ subject: 'english', grades: [3, 4] }],
    });
    await create('s2', 'county1', { pupils: 50, teacherGaps: [{ subject: 'music', grades: [1] }] });
    await create('s3', 'county2', {
      name: EVIL,
      pupils: 30,
      teacherGaps: [{ subject: 'english', grades: [3] }],
    });
    await create('s4', 'elsewhere', { pupils: 999 });

    lesson.english3 = (
      await publishedLesson(t, bureau, { subject: 'english', grades: [3] }, 5000)
    ).id;
    lesson.english4 = (
      await publishedLesson(t, bureau, { subject: 'english', grades: [4] }, 3000)
    ).id;
    lesson.music1 = (await publishedLesson(t, bureau, { subject: 'music', grades: [1] }, 2000)).id;

    const assign = async (lessonId: string, schoolIds: string[], dueDate: string) => {
      await t
        .http()
        .post('/api/v1/assignments')
        .set(as(admin))
        .send({ lessonId, schoolIds, dueDate })
        .expect(201);
    };
    await assign(lesson.english3, [schoolId.s1, schoolId.s3, schoolId.s4], '2099-01-01');
    await assign(lesson.english4, [schoolId.s1], '2020-01-01');
    await assign(lesson.music1, [schoolId.s2], '2099-01-01');
    for (const row of await ds.query<{ id: string; school_id: string; lesson_id: string }[]>(
      `SELECT id, school_id, lesson_id FROM assignment WHERE revoked_at IS NULL`,
    )) {
      assignmentId[`${row.school_id}/${row.lesson_id}`] = row.id;
    }

    // What the terminal sync records: s1 installed english 3; a built bundle brought it.
    await ds.query(
      `INSERT INTO holding (school_id, lesson_id, version, bytes) VALUES ($1, $2, 1, 5000)`,
      [schoolId.s1, lesson.english3],
    );
    const bundleId = randomUUID();
    const [file] = await ds.query<{ path: string }[]>(
      `SELECT path FROM lesson_file WHERE lesson_id = $1 AND version = 1`,
      [lesson.english3],
    );
    const plan = {
      format: 'classcast-bundle/1',
      lessons: [{ lessonId: lesson.english3, version: 1 }],
      files: [
        {
          sha256: 'a'.repeat(64),
          size: 1800,
          mediaType: 'video/mp4',
          targets: [{ lessonId: lesson.english3, version: 1, path: file.path }],
        },
      ],
      zstdLevel: 19,
    };
    await ds.query(
      `INSERT INTO bundle (id, audience_type, audience_id, state, plan, lessons, source_bytes, bundle_bytes)
       VALUES ($1, 'school', $2, 'ready', $3, $4, 1800, 1200)`,
      [bundleId, schoolId.s1, JSON.stringify(plan), JSON.stringify(plan.lessons)],
    );
    await ds.query(
      `INSERT INTO bundle_school (bundle_id, school_id, need_version) VALUES ($1, $2, 1)`,
      [bundleId, schoolId.s1],
    );
    const now = new Date().toISOString();
    await addTerminal(schoolId.s1, now);
    await addTerminal(schoolId.s1, null);
    await addTerminal(schoolId.s2, new Date(Date.now() - 48 * 3600_000).toISOString());
    await addTerminal(schoolId.s4, now);
    await refreshNow();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('sums a province subtree: schools, pupils, terminals, gaps, assignment states, bytes', async () => {
    const body = await get(admin, `summary?regionId=${region.province.id}`);
    expect(Date.parse(body.asOf as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(body).toMatchObject({
      schools: 3,
      pupils: 180,
      terminals: { total: 3, seen24h: 1, stale: 2 },
      gaps: { total: 4, covered: 1 },
      assignments: { total: 4, installed: 1, pending: 2, late: 1, failed: 0 },
      // english 3 twice, english 4 and music 1 as uploaded; the bundle: 5000 as uploaded, 1200 sent
      bytes: {
        source: 15000,
        sent: 0,
        saved: 3800,
        broadcast: 0,
        unicast: 0,
        savedByBroadcast: 0,
      },
    });
    const national = await get(admin, 'summary');
    expect(national.schools).toBeGreaterThanOrEqual(4);
    expect(national.pupils).toBeGreaterThanOrEqual(180 + 999);
  });

  it('answers one row per child region with the same figures', async () => {
    const body = await get(admin, `regions?parentId=${region.prefecture.id}`);
    expect(body).toMatchObject({ page: 1, pageSize: 2, total: 2 });
    const byId = new Map((body.items as Json[]).map((r) => [r.id, r]));
    expect(byId.get(region.county1.id)).toMatchObject({
      code: region.county1.code,
      level: 'county',
      schools: 2,
      pupils: 150,
      gaps: { total: 3, covered: 1 },
      assignments: { total: 3, installed: 1, late: 1, pending: 1 },
      schoolStatus: { stale: 1, late: 1, uncovered: 2 },
    });
    expect(byId.get(region.county2.id)).toMatchObject({
      schools: 1,
      pupils: 30,
      terminals: { total: 0, seen24h: 0, stale: 0 },
      schoolStatus: { stale: 1, late: 0, uncovered: 1 },
    });
    const roots = await get(admin, 'regions');
    const codes = (roots.items as Json[]).map((r) => r.code);
    expect(codes).toEqual(expect.arrayContaining([region.province.code, region.elsewhere.code]));
    expect(body.asOf).toBeTruthy();
  });

  it('answers gaps, covered gaps and lessons installed per subject and grade', async () => {
    const body = await get(admin, `subjects?regionId=${region.province.id}`);
    expect(body.items).toEqual([
      { subject: 'english', grade: 3, gaps: 2, covered: 1, lessonsInstalled: 1 },
      { subject: 'english', grade: 4, gaps: 1, covered: 0, lessonsInstalled: 0 },
      { subject: 'music', grade: 1, gaps: 1, covered: 0, lessonsInstalled: 0 },
    ]);
    expect(body.total).toBe(3);
  });

  it('lists schools by status, paged, with totals', async () => {
    const late = await get(admin, `schools?regionId=${region.province.id}&status=late`);
    expect(late.total).toBe(1);
    expect(late.items[0]).toMatchObject({
      id: schoolId.s1,
      regionId: region.county1.id,
      pupils: 100,
      terminals: { total: 2, seen24h: 1, stale: 1 },
      gaps: { total: 2, covered: 1 },
      assignments: { total: 2, installed: 1, late: 1, pending: 0 },
      status: { stale: false, late: true, uncovered: true },
    });
    expect(Date.parse(late.items[0].lastSeenAt as string)).toBeGreaterThan(Date.now() - 600_000);

    const stale = await get(admin, `schools?regionId=${region.province.id}&status=stale`);
    expect((stale.items as Json[]).map((s) => s.id).sort()).toEqual(
      [schoolId.s2, schoolId.s3].sort(),
    );
    const uncovered = await get(admin, `schools?regionId=${region.province.id}&status=uncovered`);
    expect(uncovered.total).toBe(3);

    const all = await get(admin, `schools?regionId=${region.province.id}&pageSize=2`);
    expect(all).toMatchObject({ page: 1, pageSize: 2, total: 3 });
    expect(all.items).toHaveLength(2);
    const second = await get(admin, `schools?regionId=${region.province.id}&pageSize=2&page=2`);
    expect(second.items).toHaveLength(1);
    const seen = [...(all.items as Json[]), ...(second.items as Json[])].map((s) => s.id);
    expect(new Set(seen)).toEqual(new Set([schoolId.s1, schoolId.s2, schoolId.s3]));
    // Markup and formulas come back exactly as stored in JSON.
    expect(seen.length).toBe(3);
    const s3 = [...(all.items as Json[]), ...(second.items as Json[])].find(
      (s) => s.id === schoolId.s3,
    );
    expect(s3?.name).toBe(EVIL);
  });

  it('scopes every route to the caller’s subtree: outside or unknown is 404', async () => {
    const own = await get(countyViewer, 'summary');
    expect(own).toMatchObject({ schools: 1, pupils: 30 });
    const mine = await get(prefectureViewer, `summary?regionId=${region.county1.id}`);
    expect(mine.schools).toBe(2);
    for (const path of [
      `summary?regionId=${region.province.id}`,
      `summary?regionId=${region.elsewhere.id}`,
      `summary?regionId=${randomUUID()}`,
      `regions?parentId=${region.province.id}`,
      `subjects?regionId=${region.county1.id}`,
      `schools?regionId=${region.elsewhere.id}`,
    ]) {
      const body = await get(countyViewer, path, 404);
      expect(body.code).toBe('not_found');
    }
    const regions = await get(countyViewer, 'regions');
    expect((regions.items as Json[]).map((r) => r.id)).toEqual([region.county2.id]);
    const schools = await get(prefectureViewer, 'schools');
    expect(schools.total).toBe(3);
    expect((schools.items as Json[]).map((s) => s.id)).not.toContain(schoolId.s4);
  });

  it('rejects malformed filters with 422 and unauthenticated calls with 401', async () => {
    for (const path of [
      'summary?regionId=not-a-uuid',
      'schools?status=gone',
      'schools?pageSize=501',
      'schools?page=0',
      'regions?format=xml',
    ]) {
      expect((await get(admin, path, 422)).code).toBe('validation_failed');
    }
    await t.http().get('/api/v1/coverage/summary').expect(401);
  });

  it('answers CSV on every route, with formula-looking cells neutralised', async () => {
    const schools = await t
      .http()
      .get(`/api/v1/coverage/schools?regionId=${region.province.id}&status=stale`)
      .set(as(admin))
      .set('Accept', 'text/csv')
      .expect(200)
      .expect('Content-Type', /text\/csv/);
    const rows = csvRecords(schools.text);
    expect(rows).toHaveLength(2);
    const evil = rows.find((r) => r.id === schoolId.s3);
    expect(evil?.name).toBe(`'${EVIL}`);
    expect(evil).toMatchObject({ pupils: '30', gapsTotal: '1', statusStale: 'true' });
    expect(evil?.asOf).toMatch(/^\d{4}-\d\d-\d\dT/);
    // No cell of the file starts with a formula character.
    for (const cell of parseCsv(schools.text).flat()) expect(cell).not.toMatch(/^[=+\-@]/);

    const summary = await t
      .http()
      .get(`/api/v1/coverage/summary?regionId=${region.province.id}&format=csv`)
      .set(as(admin))
      .expect(200)
      .expect('Content-Type', /text\/csv/);
    expect(csvRecords(summary.text)[0]).toMatchObject({
      schools: '3',
      terminalsSeen24h: '1',
      assignmentsLate: '1',
      bytesSaved: '3800',
    });
    const regionsCsv = await t
      .http()
      .get(`/api/v1/coverage/regions?parentId=${region.prefecture.id}&format=csv`)
      .set(as(admin))
      .expect(200);
    expect(
      csvRecords(regionsCsv.text)
        .map((r) => r.code)
        .sort(),
    ).toEqual([region.county1.code, region.county2.code].sort());
    const subjects = await t
      .http()
      .get(`/api/v1/coverage/subjects?regionId=${region.province.id}`)
      .set(as(admin))
      .set('Accept', 'text/csv')
      .expect(200);
    expect(csvRecords(subjects.text)[0]).toMatchObject({
      subject: 'english',
      grade: '3',
      gaps: '2',
      covered: '1',
      lessonsInstalled: '1',
    });
    // Nothing matches: still a header naming every column.
    const none = await t
      .http()
      .get(`/api/v1/coverage/schools?regionId=${region.county2.id}&status=late&format=csv`)
      .set(as(admin))
      .expect(200);
    expect(parseCsv(none.text)).toEqual([
      expect.arrayContaining(['asOf', 'id', 'name', 'terminalsSeen24h', 'statusLate']),
    ]);
    // JSON stays the default for browsers and clients that accept anything.
    const json = await t
      .http()
      .get(`/api/v1/coverage/summary?regionId=${region.province.id}`)
      .set(as(admin))
      .set('Accept', '*/*')
      .expect(200)
      .expect('Content-Type', /json/);
    expect(json.body.schools).toBe(3);
  });

  it('follows holdings, revocations, terminals and satellite bytes after a refresh', async () => {
    const before = await get(admin, `summary?regionId=${region.province.id}`);
    // s1's terminal wiped english 3; s3 installed it; s2 called in; music for s2 is revoked.
    await ds.query(`DELETE FROM holding WHERE school_id = $1`, [schoolId.s1]);
    await ds.query(
      `INSERT INTO holding (school_id, lesson_id, version, bytes) VALUES ($1, $2, 1, 5000)`,
      [schoolId.s3, lesson.english3],
    );
    await ds.query(`UPDATE terminal SET last_seen_at = now() WHERE school_id = $1`, [schoolId.s2]);
    await t
      .http()
      .delete(`/api/v1/assignments/${assignmentId[`${schoolId.s2}/${lesson.music1}`]}`)
      .set(as(admin))
      .expect(204);
    // The terminal sync records what it sent: s1's terminal fetched the bundle.
    await ds.query(
      `INSERT INTO delivery (bundle_id, terminal_id, school_id, state, bytes, via)
       SELECT bs.bundle_id, t.id, bs.school_id, 'installed', 1200, 'http'
       FROM bundle_school bs JOIN terminal t ON t.school_id = bs.school_id
       WHERE bs.school_id = $1 AND t.last_seen_at IS NOT NULL`,
      [schoolId.s1],
    );
    const coverage = t.app.get(CoverageService);
    await coverage.addSatelliteBytes({
      schoolId: schoolId.s1,
      via: 'broadcast',
      bytes: 1000,
      savedByBroadcast: 4000,
    });
    await coverage.addSatelliteBytes({ regionId: region.county2.id, via: 'unicast', bytes: 300 });
    const changedAt = Date.now();
    await refreshNow();

    const after = await get(admin, `summary?regionId=${region.province.id}`);
    expect(Date.parse(after.asOf as string)).toBeGreaterThanOrEqual(
      Date.parse(before.asOf as string),
    );
    expect(Date.parse(after.asOf as string)).toBeGreaterThanOrEqual(changedAt - 1000);
    expect(after).toMatchObject({
      schools: 3,
      terminals: { total: 3, seen24h: 2, stale: 1 },
      gaps: { total: 4, covered: 1 },
      assignments: { total: 3, installed: 1, pending: 1, late: 1 },
      bytes: { source: 13000, sent: 1200, broadcast: 1000, unicast: 300, savedByBroadcast: 4000 },
    });
    const county1 = await get(admin, `summary?regionId=${region.county1.id}`);
    expect(county1).toMatchObject({
      gaps: { total: 3, covered: 0 },
      bytes: { sent: 1200, broadcast: 1000, unicast: 0 },
    });
    const county2 = await get(admin, `summary?regionId=${region.county2.id}`);
    expect(county2).toMatchObject({ gaps: { total: 1, covered: 1 }, bytes: { unicast: 300 } });
    const subjects = await get(admin, `subjects?regionId=${region.province.id}`);
    expect(subjects.items[0]).toEqual({
      subject: 'english',
      grade: 3,
      gaps: 2,
      covered: 1,
      lessonsInstalled: 1,
    });
    const stale = await get(admin, `schools?regionId=${region.province.id}&status=stale`);
    expect((stale.items as Json[]).map((s) => s.id)).toEqual([schoolId.s3]);

    // A rebuild from the tables gives the same figures as the incremental path.
    await t.app.get(CoverageRefresher).rebuild();
    const rebuilt = await get(admin, `summary?regionId=${region.province.id}`);
    expect({ ...rebuilt, asOf: null }).toEqual({ ...after, asOf: null });
  });

  it('folds a change in by itself within the refresh interval', async () => {
    const started = Date.now();
    await ds.query(`UPDATE school SET pupils = 130 WHERE id = $1`, [schoolId.s3]);
    for (;;) {
      const body = await get(admin, `summary?regionId=${region.county2.id}`);
      if (body.pupils === 130) {
        expect(Date.parse(body.asOf as string)).toBeGreaterThanOrEqual(started - 1000);
        break;
      }
      if (Date.now() - started > 30_000) throw new Error('the refresh job never folded it in');
      await new Promise((r) => setTimeout(r, 200));
    }
    // A delivery alone (a resumed download moving on) marks its school too.
    await ds.query(`UPDATE delivery SET bytes = 2000 WHERE school_id = $1`, [schoolId.s1]);
    for (;;) {
      const body = await get(admin, `summary?regionId=${region.county1.id}`);
      if (body.bytes.sent === 2000) break;
      if (Date.now() - started > 60_000) throw new Error('the delivery was never folded in');
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('lets a bulk write (gap matching) finish before the scheduled refresh folds its changes', async () => {
    const release = await holdBulkWrite(ds);
    let released = false;
    try {
      expect(await bulkWriteRunning(ds)).toBe(true);
      const refresher = t.app.get(CoverageRefresher);
      expect(await refresher.refresh({ yieldToBulkWrites: true })).toMatchObject({
        yielded: true,
        schools: 0,
      });
      await ds.query(`UPDATE school SET pupils = 140 WHERE id = $1`, [schoolId.s3]);
      // The timer (every second here) leaves the change marked, not folded, while the write runs.
      await new Promise((r) => setTimeout(r, 3000));
      expect((await get(admin, `summary?regionId=${region.county2.id}`)).pupils).toBe(130);
      const [{ n }] = await ds.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM coverage_dirty WHERE school_id = $1`,
        [schoolId.s3],
      );
      expect(n).toBeGreaterThan(0);
      await release();
      released = true;
      expect(await bulkWriteRunning(ds)).toBe(false);
      const started = Date.now();
      while ((await get(admin, `summary?regionId=${region.county2.id}`)).pupils !== 140) {
        if (Date.now() - started > 30_000) throw new Error('the refresh never resumed');
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      if (!released) await release();
    }
  });

  it('documents every coverage route in the OpenAPI document', async () => {
    const doc = (await t.http().get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, Json>>;
    };
    for (const route of ['summary', 'regions', 'subjects', 'schools']) {
      const op = doc.paths[`/api/v1/coverage/${route}`]?.get;
      expect(op).toBeDefined();
      expect(Object.keys(op.responses as Json)).toEqual(expect.arrayContaining(['200', '404']));
    }
  });

  it('exposes operator metrics', async () => {
    const refused = await t.http().post('/api/v1/sync/enroll').send({ code: 'nope' });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    const text = (await t.http().get('/metrics').expect(200)).text;
    expect(text).toContain(`classcast_coverage_ratio{province="${region.province.code}"} 0.25`);
    expect(text).toMatch(/classcast_queue_jobs\{queue="maintenance",state="[a-z]+"\} \d+/);
    expect(text).toMatch(
      /classcast_job_duration_seconds_count\{queue="maintenance",job="coverage.refresh",result="completed"\} [1-9]/,
    );
    expect(text).toContain(
      `classcast_sync_requests_total{route="/api/v1/sync/enroll",status="${refused.status}"} 1`,
    );
    expect(text).toMatch(/classcast_bytes_served_total\{route="[^"]+"\} [1-9]/);
    expect(text).toMatch(/classcast_terminals_seen\{window="24h"\} [1-9]/);
    expect(text).toMatch(/classcast_bundles\{state="ready"\} 1/);
    expect(text).toMatch(/classcast_coverage_lag_seconds \d/);
  });
});
