import { DataSource } from 'typeorm';
import { bulkWriteRunning } from '../src/database/bulk-write';
import { MatchingRepository } from '../src/modules/assignments/matching.repository';
import { SchoolEventsService } from '../src/modules/schools/school-events.service';
import {
  Actor,
  createBureauUser,
  createRegion,
  loginAdmin,
  publishedLesson,
  waitForJob,
} from './support/factories';
import { until } from './support/wait';
import { createSchool as createSchoolAs } from './support/sync';
import { TestApp, startTestApp } from './support/test-app';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Gap matching at more than one batch, its bulk writes, and the need changes it leaves. */
describe('gap matching at scale: bulk writes, batches, need changes', () => {
  let t: TestApp;
  let ds: DataSource;
  let admin: Actor;
  let bureau: Actor;
  let province: { id: string; code: string };
  const as = (a: Actor) => ({ Authorization: `Bearer ${a.token}` });

  /** A school in any region (the admin's scope is everything). */
  const createSchool = (code: string, regionId: string, extra: Record<string, unknown> = {}) =>
    createSchoolAs(t, admin, code, { regionId, ...extra });

  beforeAll(async () => {
    // Default NEED_RECONCILE_AFTER_SECONDS (300): fresh need changes are left to their jobs.
    t = await startTestApp({ NEED_DEBOUNCE_SECONDS: '0' });
    ds = t.app.get(DataSource);
    admin = await loginAdmin(t);
    province = await createRegion(t, admin, { level: 'province' });
    bureau = await createBureauUser(t, admin, province.id);
  });
  afterAll(() => t.close());

  it('reconciles only need changes old enough to have lost their job', async () => {
    const county = await createRegion(t, admin, { level: 'county', parentId: province.id });
    const fresh = await createSchool('RECON-FRESH', county.id);
    const stale = await createSchool('RECON-STALE', county.id);
    const events = t.app.get(SchoolEventsService);
    const pending = async (schoolId: string) =>
      (
        await ds.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM school_event WHERE school_id = $1 AND processed_at IS NULL`,
          [schoolId],
        )
      )[0].n;
    const folded =
      (...schoolIds: string[]) =>
      async () => {
        for (const id of schoolIds) if ((await pending(id)) > 0) return undefined;
        return true;
      };
    await until('the creations folded', folded(fresh, stale), { everyMs: 100 });
    // Recorded without a job, as a running gap matching leaves them until it is done; one of
    // them as if it had waited past NEED_RECONCILE_AFTER_SECONDS (300 by default).
    await events.record([fresh, stale], 'assignment.created', { via: 'gap-match' });
    await ds.query(
      `UPDATE school_event SET created_at = now() - interval '301 seconds'
       WHERE school_id = $1 AND processed_at IS NULL`,
      [stale],
    );
    expect(await events.reschedulePending()).toBe(1);
    await until('the stale change folded', folded(stale), { everyMs: 100 });
    expect(await pending(fresh)).toBe(1);
  });

  it('writes gap assignments in bulk, and skips pairs another writer made since they were read', async () => {
    const county = await createRegion(t, admin, { level: 'county', parentId: province.id });
    const schoolId = await createSchool('BULK-1', county.id);
    const lessons = await Promise.all(
      ['a', 'b', 'c'].map(() => publishedLesson(t, bureau, { subject: 'pe', grades: [5] })),
    );
    const userId = bureau.id;
    const repo = t.app.get(MatchingRepository);
    const row = (lessonId: string, reason: string) => ({
      schoolId,
      lessonId,
      courseId: null,
      reason,
      score: 412.5,
    });
    const first = await ds.transaction((em) =>
      repo.createGapAssignments(em, () => [row(lessons[0].id, 'gap pe grade 5: first')], userId),
    );
    expect(first).toEqual({ created: 1, schoolIds: [schoolId] });

    // Lesson b was assigned by hand after the batch was read: the batch still lands, without it.
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lessons[1].id, schoolIds: [schoolId] })
      .expect(201);
    const second = await ds.transaction((em) =>
      repo.createGapAssignments(
        em,
        () => [
          row(lessons[1].id, 'gap pe grade 5: raced'),
          row(lessons[2].id, 'gap pe grade 5: third'),
        ],
        userId,
      ),
    );
    expect(second).toEqual({ created: 1, schoolIds: [schoolId] });

    const stored = await ds.query<
      { id: string; lesson_id: string; source: string; reason: string | null; score: number }[]
    >(
      `SELECT id, lesson_id, source, reason, score FROM assignment
       WHERE school_id = $1 AND revoked_at IS NULL ORDER BY id`,
      [schoolId],
    );
    const byLesson = Object.fromEntries(stored.map((s) => [s.lesson_id, s]));
    expect(stored).toHaveLength(3);
    expect(byLesson[lessons[0].id]).toMatchObject({
      source: 'gap-match',
      reason: 'gap pe grade 5: first',
      score: 412.5,
    });
    expect(byLesson[lessons[1].id]).toMatchObject({ source: 'manual', reason: null });
    expect(byLesson[lessons[2].id]).toMatchObject({
      source: 'gap-match',
      reason: 'gap pe grade 5: third',
    });
    expect(byLesson[lessons[0].id].id).toMatch(UUID_V7);
    expect(byLesson[lessons[2].id].id).toMatch(UUID_V7);
    // A write that fails for another reason fails, and leaves nothing behind.
    await expect(
      ds.transaction((em) =>
        repo.createGapAssignments(
          em,
          () => [row('00000000-0000-4000-8000-000000000000', 'x')],
          userId,
        ),
      ),
    ).rejects.toThrow(/foreign key/);
    expect(
      (
        await ds.query(`SELECT count(*)::int AS n FROM assignment WHERE school_id = $1`, [schoolId])
      )[0].n,
    ).toBe(3);
  });

  it('over several batches of schools, applies exactly what its dry run proposed', async () => {
    const county = await createRegion(t, admin, { level: 'county', parentId: province.id });
    const [calligraphy3, calligraphy4, calligraphyUg] = [
      await publishedLesson(t, bureau, {
        subject: 'calligraphy',
        grades: [3, 4],
        teacherlessReady: true,
      }),
      await publishedLesson(t, bureau, { subject: 'calligraphy', grades: [4] }),
      await publishedLesson(t, bureau, { subject: 'calligraphy', grades: [3], language: 'ug' }),
    ];
    const course = await t
      .http()
      .post('/api/v1/courses')
      .set(as(bureau))
      .send({
        title: 'Calligraphy 4',
        subject: 'calligraphy',
        grade: 4,
        lessonIds: [calligraphy3.id, calligraphy4.id],
      })
      .expect(201);
    // 4,500 schools (three batches), in two languages, some already holding a lesson by hand.
    const lines = [
      'code,name,regionCode,pupils,grades,downlinkKbps,timezone,storageCapacityMb,languages,teacherGaps',
    ];
    for (let i = 0; i < 4500; i++) {
      const languages = i % 5 === 0 ? 'ug' : i % 7 === 0 ? 'zh-CN;ug' : 'zh-CN';
      const gaps =
        i % 3 === 0 ? 'calligraphy:3' : i % 3 === 1 ? 'calligraphy:3-4' : 'calligraphy:4;music:2';
      const storage = i % 11 === 0 ? 0 : 64000;
      lines.push(
        `SCALE-${i},School ${i},${county.code},100,1;2;3;4,2000,Asia/Shanghai,${storage},${languages},${gaps}`,
      );
    }
    const imported = await t
      .http()
      .post('/api/v1/schools/import')
      .set(as(bureau))
      .set('Content-Type', 'text/csv')
      .send(lines.join('\n'))
      .expect(202);
    const importJob = await waitForJob(t, bureau, imported.body.jobId as string, 300_000);
    expect(importJob.result).toMatchObject({ inserted: 4500, rejectedTotal: 0 });
    const handAssigned = await ds.query<{ id: string }[]>(
      `SELECT s.id FROM school s WHERE s.code IN ('SCALE-1', 'SCALE-2', 'SCALE-4') ORDER BY s.code`,
    );
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: calligraphy3.id, schoolIds: handAssigned.map((s) => s.id) })
      .expect(201);

    const match = async (dryRun: boolean) => {
      const res = await t
        .http()
        .post('/api/v1/assignments/match')
        .set(as(bureau))
        .send({ regionId: county.id, dryRun })
        .expect(202);
      const job = await waitForJob(t, bureau, res.body.jobId as string, 300_000);
      expect(job.state).toBe('completed');
      return { jobId: res.body.jobId as string, result: job.result };
    };
    const dry = await match(true);
    expect(dry.result.proposals).toHaveLength(1000);
    const proposals: {
      schoolId: string;
      subject: string;
      grade: number;
      lessonId?: string;
      courseId?: string;
    }[] = [];
    for (let p = 1; proposals.length < dry.result.proposalsTotal; p++) {
      const res = await t
        .http()
        .get(`/api/v1/assignments/match/${dry.jobId}/proposals?page=${p}&pageSize=500`)
        .set(as(bureau))
        .expect(200);
      expect(res.body.total).toBe(dry.result.proposalsTotal);
      proposals.push(...res.body.items);
      if (res.body.items.length === 0) break;
    }
    expect(proposals).toHaveLength(dry.result.proposalsTotal);
    expect(proposals.slice(0, 1000)).toEqual(dry.result.proposals);
    expect(new Set(proposals.map((p) => `${p.schoolId}/${p.subject}/${p.grade}`)).size).toBe(
      proposals.length,
    );

    // While it writes, the run holds the bulk-write marker (the coverage rollup waits for it).
    let markerSeen = false;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if (await bulkWriteRunning(ds)) markerSeen = true;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const applied = await match(false).finally(() => (watching = false));
    await watcher;
    expect(markerSeen).toBe(true);
    expect(await bulkWriteRunning(ds)).toBe(false);
    expect({ ...applied.result, dryRun: true, created: 0 }).toEqual(dry.result);
    // What applying each proposal makes, less what the schools already held.
    const courseLessons = [calligraphy3.id, calligraphy4.id];
    const held = new Set(handAssigned.map((s) => `${s.id}/${calligraphy3.id}`));
    const expected = new Set<string>();
    for (const p of proposals) {
      const lessonIds = p.courseId
        ? p.courseId === course.body.id
          ? courseLessons
          : []
        : [p.lessonId!];
      for (const l of lessonIds)
        if (!held.has(`${p.schoolId}/${l}`)) expected.add(`${p.schoolId}/${l}`);
    }
    const made = await ds.query<{ pair: string }[]>(
      `SELECT a.school_id || '/' || a.lesson_id AS pair FROM assignment a JOIN school s ON s.id = a.school_id
       WHERE s.region_id = $1 AND a.source = 'gap-match' AND a.revoked_at IS NULL`,
      [county.id],
    );
    expect(applied.result.created).toBe(expected.size);
    expect(new Set(made.map((m) => m.pair))).toEqual(expected);
    expect(made).toHaveLength(expected.size);
    expect(expected.size).toBeGreaterThan(4000);
    expect(proposals.some((p) => p.lessonId === calligraphyUg.id)).toBe(true);

    // Every school that got something has one pending need change, scheduled once it was done.
    const [events] = await ds.query<{ schools: number; rows: number }[]>(
      `SELECT count(DISTINCT e.school_id)::int AS schools, count(*)::int AS rows FROM school_event e
       JOIN school s ON s.id = e.school_id
       WHERE s.region_id = $1 AND e.kind = 'assignment.created' AND e.detail->>'via' = 'gap-match'`,
      [county.id],
    );
    expect(events.schools).toBe(new Set([...expected].map((p) => p.split('/')[0])).size);
    expect(events.rows).toBe(events.schools);
    const again = await match(false);
    expect(again.result).toMatchObject({ created: 0, proposalsTotal: 0 });
  });
});
