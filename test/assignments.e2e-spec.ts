import { DataSource } from 'typeorm';
import {
  Actor,
  createBureauUser,
  createLesson,
  createRegion,
  createViewer,
  loginAdmin,
  publishedLesson,
  waitForJob,
} from './support/factories';
import { createSchool as createSchoolAs } from './support/sync';
import { TestApp, startTestApp } from './support/test-app';

describe('assignments, gap matching and delivery plans', () => {
  let t: TestApp;
  let admin: Actor;
  let bureau: Actor;
  let province: { id: string; code: string };
  let county: { id: string; code: string };
  let otherCounty: { id: string; code: string };
  let elsewhere: { id: string; code: string };
  const as = (a: Actor) => ({ Authorization: `Bearer ${a.token}` });

  /** A school in any region (the admin's scope is everything). */
  const createSchool = (code: string, regionId: string, extra: Record<string, unknown> = {}) =>
    createSchoolAs(t, admin, code, { regionId, ...extra });

  beforeAll(async () => {
    t = await startTestApp({ NEED_DEBOUNCE_SECONDS: '0', ASSIGN_SYNC_LIMIT: '3' });
    admin = await loginAdmin(t);
    province = await createRegion(t, admin, { level: 'province' });
    county = await createRegion(t, admin, { level: 'county', parentId: province.id });
    otherCounty = await createRegion(t, admin, { level: 'county', parentId: province.id });
    elsewhere = await createRegion(t, admin, { level: 'province' });
    bureau = await createBureauUser(t, admin, province.id);
  });
  afterAll(() => t.close());

  it('assigns a lesson to schools idempotently, and lists it with a derived state', async () => {
    const lesson = await publishedLesson(t, bureau, { subject: 'art', grades: [2] });
    const a = await createSchool('AS-1', county.id);
    const b = await createSchool('AS-2', county.id);
    const first = await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, schoolIds: [a, b], dueDate: '2030-01-31', priority: 2 })
      .expect(201);
    expect(first.body).toEqual({ created: 2, existing: 0 });
    const again = await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, schoolIds: [a, b] })
      .expect(201);
    expect(again.body).toEqual({ created: 0, existing: 2 });
    const list = await t
      .http()
      .get(`/api/v1/assignments?lessonId=${lesson.id}`)
      .set(as(bureau))
      .expect(200);
    expect(list.body.total).toBe(2);
    expect(list.body.items[0]).toMatchObject({
      lessonId: lesson.id,
      source: 'manual',
      dueDate: '2030-01-31',
      priority: 2,
      state: 'pending',
    });
    const pending = await t
      .http()
      .get(`/api/v1/assignments?lessonId=${lesson.id}&state=installed`)
      .set(as(bureau))
      .expect(200);
    expect(pending.body.total).toBe(0);
  });

  it('marks assignments installed from holdings and late past their due date', async () => {
    const lesson = await publishedLesson(t, bureau, { subject: 'music', grades: [1] });
    const a = await createSchool('ST-1', county.id);
    const b = await createSchool('ST-2', county.id);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, schoolIds: [a, b], dueDate: '2020-01-01' })
      .expect(201);
    await t.app
      .get(DataSource)
      .query(
        `INSERT INTO holding (school_id, lesson_id, version, bytes) VALUES ($1, $2, 1, 4096)`,
        [a, lesson.id],
      );
    const list = await t
      .http()
      .get(`/api/v1/assignments?lessonId=${lesson.id}`)
      .set(as(bureau))
      .expect(200);
    const states = Object.fromEntries(
      (list.body.items as { schoolId: string; state: string }[]).map((x) => [x.schoolId, x.state]),
    );
    expect(states).toEqual({ [a]: 'installed', [b]: 'late' });
    const holdings = await t
      .http()
      .get(`/api/v1/schools/${a}/holdings`)
      .set(as(bureau))
      .expect(200);
    expect(holdings.body.items).toEqual([
      expect.objectContaining({ lessonId: lesson.id, version: 1, bytes: 4096 }),
    ]);
  });

  it('assigns a course to a region subtree and to every school with a gap', async () => {
    const l1 = await publishedLesson(t, bureau, { subject: 'english', grades: [5] });
    const l2 = await publishedLesson(t, bureau, { subject: 'english', grades: [5] });
    const draft = await createLesson(t, bureau, { subject: 'english', grades: [5] });
    const course = await t
      .http()
      .post('/api/v1/courses')
      .set(as(bureau))
      .send({
        title: 'English 5',
        subject: 'english',
        grade: 5,
        lessonIds: [l1.id, draft.id, l2.id],
      })
      .expect(201);
    const r = await createRegion(t, admin, { level: 'county', parentId: province.id });
    await createSchool('RG-1', r.id);
    await createSchool('RG-2', r.id);
    const byRegion = await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ courseId: course.body.id, regionId: r.id })
      .expect(201);
    // Only the published lessons of the course are assigned.
    expect(byRegion.body).toEqual({ created: 4, existing: 0 });
    const gapSchool = await createSchool('GAP-1', otherCounty.id, {
      teacherGaps: [{ subject: 'pe', grades: [4] }],
    });
    const pe = await publishedLesson(t, bureau, { subject: 'pe', grades: [4] });
    const byGap = await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: pe.id, gap: { subject: 'pe', grade: 4 } })
      .expect(201);
    expect(byGap.body).toEqual({ created: 1, existing: 0 });
    const list = await t
      .http()
      .get(`/api/v1/assignments?schoolId=${gapSchool}`)
      .set(as(bureau))
      .expect(200);
    expect(list.body.items.map((x: { lessonId: string }) => x.lessonId)).toEqual([pe.id]);
  });

  it('answers a large target with 202 and a job', async () => {
    const r = await createRegion(t, admin, { level: 'county', parentId: province.id });
    for (const code of ['BIG-1', 'BIG-2', 'BIG-3', 'BIG-4']) await createSchool(code, r.id);
    const lesson = await publishedLesson(t, bureau, { subject: 'science', grades: [3] });
    const res = await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, regionId: r.id })
      .expect(202);
    const job = await waitForJob(t, bureau, res.body.jobId as string);
    expect(job).toMatchObject({ state: 'completed', result: { created: 4, existing: 0 } });
  });

  it('refuses targets outside the caller region (404), viewers (403), drafts and bad bodies (422)', async () => {
    const lesson = await publishedLesson(t, bureau, { subject: 'art', grades: [1] });
    const foreign = await createSchool('FOR-1', elsewhere.id);
    const mine = await createSchool('MINE-1', county.id);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, schoolIds: [mine, foreign] })
      .expect(404);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, regionId: elsewhere.id })
      .expect(404);
    const viewer = await createViewer(t, admin, province.id);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(viewer))
      .send({ lessonId: lesson.id, schoolIds: [mine] })
      .expect(403);
    const draft = await createLesson(t, bureau);
    const d = await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: draft.id, schoolIds: [mine] })
      .expect(422);
    expect(d.body.details[0].field).toBe('lessonId');
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ schoolIds: [mine] })
      .expect(422);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, schoolIds: [mine], regionId: county.id })
      .expect(422);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, schoolIds: [mine], dueDate: '2026-13-01' })
      .expect(422);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, schoolIds: [mine], priority: 0 })
      .expect(422);
    const rows = await t.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS n FROM assignment WHERE school_id = ANY($1::uuid[])`, [
        [mine, foreign],
      ]);
    expect(rows[0].n).toBe(0);
  });

  it('revokes an assignment, and retiring a lesson revokes all of its assignments', async () => {
    const lesson = await publishedLesson(t, bureau, { subject: 'ethics', grades: [1] });
    const s1 = await createSchool('RV-1', county.id);
    const s2 = await createSchool('RV-2', county.id);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, schoolIds: [s1, s2] })
      .expect(201);
    const list = await t
      .http()
      .get(`/api/v1/assignments?schoolId=${s1}`)
      .set(as(bureau))
      .expect(200);
    await t
      .http()
      .delete(`/api/v1/assignments/${list.body.items[0].id as string}`)
      .set(as(bureau))
      .expect(204);
    await t
      .http()
      .delete(`/api/v1/assignments/${list.body.items[0].id as string}`)
      .set(as(bureau))
      .expect(404);
    expect(
      (await t.http().get(`/api/v1/assignments?lessonId=${lesson.id}`).set(as(bureau)).expect(200))
        .body.total,
    ).toBe(1);
    await t.http().delete(`/api/v1/lessons/${lesson.id}`).set(as(bureau)).expect(204);
    expect(
      (await t.http().get(`/api/v1/assignments?lessonId=${lesson.id}`).set(as(bureau)).expect(200))
        .body.total,
    ).toBe(0);
    const events = await t.app
      .get(DataSource)
      .query(`SELECT kind FROM school_event WHERE school_id = $1 ORDER BY id`, [s2]);
    expect(events.map((e: { kind: string }) => e.kind)).toEqual([
      'school.created',
      'assignment.created',
      'assignment.revoked',
    ]);
  });

  it('flags late and non-fitting items in the delivery plan', async () => {
    const big = await publishedLesson(
      t,
      bureau,
      { subject: 'music', grades: [6] },
      3 * 1024 * 1024,
    );
    const small = await publishedLesson(t, bureau, { subject: 'music', grades: [6] }, 600 * 1024);
    const s = await createSchool('PLAN-1', county.id, {
      link: {
        downlinkKbps: 1,
        windows: [{ start: '23:00', end: '23:30' }],
        timezone: 'Asia/Shanghai',
      },
      storageCapacityMb: 1,
    });
    const tomorrow = new Date(Date.now() + 24 * 3600_000).toISOString().slice(0, 10);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: big.id, schoolIds: [s], dueDate: tomorrow, priority: 1 })
      .expect(201);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: small.id, schoolIds: [s], dueDate: tomorrow })
      .expect(201);
    const plan = await t.http().get(`/api/v1/schools/${s}/plan`).set(as(bureau)).expect(200);
    expect(plan.body).toMatchObject({
      schoolId: s,
      storage: { capacityBytes: 1024 * 1024, fits: false },
    });
    expect(plan.body.computedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const byLesson = Object.fromEntries(
      (plan.body.items as { lessonId: string; estimatedArrival: string }[]).map((i) => [
        i.lessonId,
        i,
      ]),
    );
    expect(byLesson[big.id]).toMatchObject({
      fits: false,
      estimatedArrival: null,
      reasons: ['exceeds_storage'],
    });
    // 600 KiB at 1 kbit/s, 30 minutes a night (225 kB): three nights, so late for tomorrow.
    expect(byLesson[small.id]).toMatchObject({
      fits: true,
      late: true,
      reasons: ['late'],
      bytes: expect.any(Number),
    });
    expect(Date.parse(byLesson[small.id].estimatedArrival)).toBeGreaterThan(
      Date.now() + 24 * 3600_000,
    );
  });

  it('matches teacher gaps: dry run proposes, apply creates, within storage, deterministically', async () => {
    const r = await createRegion(t, admin, { level: 'county', parentId: province.id });
    const uig = await publishedLesson(t, bureau, {
      subject: 'calligraphy',
      grades: [3],
      language: 'ug',
      teacherlessReady: true,
    });
    const zhReady = await publishedLesson(t, bureau, {
      subject: 'calligraphy',
      grades: [3],
      teacherlessReady: true,
    });
    const zhPlain = await publishedLesson(t, bureau, { subject: 'calligraphy', grades: [3] });
    const s1 = await createSchool('M-1', r.id, {
      grades: [3],
      teacherGaps: [{ subject: 'calligraphy', grades: [3] }],
    });
    const s2 = await createSchool('M-2', r.id, {
      grades: [3],
      languages: ['ug'],
      teacherGaps: [{ subject: 'calligraphy', grades: [3] }],
    });
    const s3 = await createSchool('M-3', r.id, {
      grades: [3],
      storageCapacityMb: 0,
      teacherGaps: [{ subject: 'calligraphy', grades: [3] }],
    });

    const dry = await t
      .http()
      .post('/api/v1/assignments/match')
      .set(as(bureau))
      .send({ regionId: r.id, dryRun: true })
      .expect(202);
    const dryJob = await waitForJob(t, bureau, dry.body.jobId as string);
    expect(dryJob.result).toMatchObject({
      dryRun: true,
      gaps: 3,
      filled: 2,
      created: 0,
      proposalsTotal: 2,
    });
    const proposals = Object.fromEntries(
      (dryJob.result!.proposals as { schoolId: string; lessonId: string }[]).map((p) => [
        p.schoolId,
        p,
      ]),
    );
    expect(proposals[s1]).toMatchObject({
      lessonId: zhReady.id,
      subject: 'calligraphy',
      grade: 3,
      reason: expect.stringContaining('teacherless'),
    });
    expect(proposals[s2]).toMatchObject({ lessonId: uig.id });
    expect(proposals[s3]).toBeUndefined();
    expect(
      (await t.http().get(`/api/v1/assignments?schoolId=${s1}`).set(as(bureau)).expect(200)).body
        .total,
    ).toBe(0);
    const paged = await t
      .http()
      .get(`/api/v1/assignments/match/${dry.body.jobId as string}/proposals?pageSize=1`)
      .set(as(bureau))
      .expect(200);
    expect(paged.body).toMatchObject({ total: 2, pageSize: 1 });

    const dry2 = await waitForJob(
      t,
      bureau,
      (
        await t
          .http()
          .post('/api/v1/assignments/match')
          .set(as(bureau))
          .send({ regionId: r.id, dryRun: true })
          .expect(202)
      ).body.jobId as string,
    );
    expect(dry2.result!.proposals).toEqual(dryJob.result!.proposals);

    const apply = await waitForJob(
      t,
      bureau,
      (
        await t
          .http()
          .post('/api/v1/assignments/match')
          .set(as(bureau))
          .send({ regionId: r.id })
          .expect(202)
      ).body.jobId as string,
    );
    expect(apply.result).toMatchObject({ dryRun: false, created: 2 });
    const made = await t
      .http()
      .get(`/api/v1/assignments?schoolId=${s1}`)
      .set(as(bureau))
      .expect(200);
    expect(made.body.items).toEqual([
      expect.objectContaining({
        lessonId: zhReady.id,
        source: 'gap-match',
        reason: expect.stringContaining('calligraphy'),
        score: expect.any(Number),
      }),
    ]);
    expect(zhPlain.id).not.toBe(zhReady.id);
    // Gaps already covered are not matched again.
    const again = await waitForJob(
      t,
      bureau,
      (
        await t
          .http()
          .post('/api/v1/assignments/match')
          .set(as(bureau))
          .send({ regionId: r.id })
          .expect(202)
      ).body.jobId as string,
    );
    expect(again.result).toMatchObject({ created: 0, filled: 2, proposalsTotal: 0 });
    const viewer = await createViewer(t, admin, province.id);
    await t
      .http()
      .get(`/api/v1/assignments/match/${dry.body.jobId as string}/proposals`)
      .set(as(viewer))
      .expect(404);
    await t
      .http()
      .post('/api/v1/assignments/match')
      .set(as(bureau))
      .send({ regionId: elsewhere.id })
      .expect(404);
  });
});
