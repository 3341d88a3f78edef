import {
  Actor,
  createBureau,
  createRegion,
  login,
  loginAdmin,
  publishedLesson,
  waitForJob,
} from './support/factories';
import { TestApp, startTestApp } from './support/test-app';

/**
 * A bureau's whole journey: import schools from CSV, enroll a terminal, assign by region and by
 * gap, run gap matching dry and for real, and read a delivery plan with a late item flagged.
 */
describe('schools journey', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ NEED_DEBOUNCE_SECONDS: '0' });
  });
  afterAll(() => t.close());

  it('import -> enroll -> assign by region and by gap -> match dry run and apply -> late item in the plan', async () => {
    const admin = await loginAdmin(t);
    const province = await createRegion(t, admin, { level: 'province', name: '甘肃省' });
    const linxia = await createRegion(t, admin, {
      level: 'prefecture',
      parentId: province.id,
      name: '临夏州',
    });
    const dongxiang = await createRegion(t, admin, {
      level: 'county',
      parentId: linxia.id,
      name: '东乡县',
    });
    const bureauRow = await createBureau(t, admin, province.id);
    await t
      .http()
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${admin.token}`)
      .send({
        email: 'jy@gs.test',
        password: 'bureau-password-1',
        role: 'bureau',
        bureauId: bureauRow.id,
      })
      .expect(201);
    const bureau: Actor = await login(t, 'jy@gs.test', 'bureau-password-1');
    const as = { Authorization: `Bearer ${bureau.token}` };

    const csv = [
      'code,name,regionCode,pupils,grades,downlinkKbps,timezone,storageCapacityMb,teacherGaps,windows',
      `DX-001,东乡县龙泉镇中心小学,${dongxiang.code},210,1;2;3;4;5;6,1,Asia/Shanghai,64000,english:3-6;music:1-6,23:00-23:30`,
      `DX-002,东乡县果园乡教学点,${dongxiang.code},35,1;2;3,2000,Asia/Shanghai,32000,music:1-3,22:00-06:00`,
      `LX-001,临夏市第三小学,${linxia.code},600,1;2;3;4;5;6,8000,Asia/Shanghai,128000,art:1-6,`,
    ].join('\n');
    const imported = await t
      .http()
      .post('/api/v1/schools/import')
      .set(as)
      .set('Content-Type', 'text/csv')
      .send(csv)
      .expect(202);
    const importJob = await waitForJob(t, bureau, imported.body.jobId as string);
    expect(importJob.result).toMatchObject({ rows: 3, inserted: 3, updated: 0, rejected: [] });
    const schools = (await t.http().get('/api/v1/schools?q=DX-001').set(as).expect(200)).body
      .items as { id: string; code: string }[];
    const dx1 = schools[0].id;

    const { code } = (
      await t.http().post(`/api/v1/schools/${dx1}/enrollment-codes`).set(as).expect(201)
    ).body;
    const enrolled = await t
      .http()
      .post('/api/v1/sync/enroll')
      .send({ code, name: 'DX-001 classroom', agentVersion: '1.0.0' })
      .expect(201);
    expect(enrolled.body.schoolId).toBe(dx1);
    await t
      .http()
      .get('/api/v1/sync/keys')
      .set('Authorization', `Bearer ${enrolled.body.token as string}`)
      .expect(200);

    const safety = await publishedLesson(t, bureau, {
      title: '安全教育',
      subject: 'ethics',
      grades: [1, 2, 3, 4, 5, 6],
    });
    const byRegion = await t
      .http()
      .post('/api/v1/assignments')
      .set(as)
      .send({ lessonId: safety.id, regionId: dongxiang.id, dueDate: '2030-09-01' })
      .expect(201);
    expect(byRegion.body).toEqual({ created: 2, existing: 0 });

    const art = await publishedLesson(t, bureau, {
      title: '美术：色彩',
      subject: 'art',
      grades: [3],
    });
    const byGap = await t
      .http()
      .post('/api/v1/assignments')
      .set(as)
      .send({ lessonId: art.id, gap: { subject: 'art', grade: 3 } })
      .expect(201);
    expect(byGap.body).toEqual({ created: 1, existing: 0 });

    const phonics = await publishedLesson(
      t,
      bureau,
      { title: 'English phonics', subject: 'english', grades: [3, 4], teacherlessReady: true },
      400 * 1024,
    );
    const songs = await publishedLesson(t, bureau, {
      title: '音乐：唱歌',
      subject: 'music',
      grades: [1, 2, 3],
    });
    const dry = await t
      .http()
      .post('/api/v1/assignments/match')
      .set(as)
      .send({ regionId: province.id, dryRun: true })
      .expect(202);
    const dryJob = await waitForJob(t, bureau, dry.body.jobId as string);
    expect(dryJob.result).toMatchObject({ dryRun: true, created: 0 });
    expect(dryJob.result.proposalsTotal).toBeGreaterThanOrEqual(3);
    const proposed = dryJob.result.proposals as { schoolId: string; lessonId: string }[];
    expect(proposed).toEqual(
      expect.arrayContaining([expect.objectContaining({ schoolId: dx1, lessonId: phonics.id })]),
    );
    expect(proposed).toEqual(
      expect.arrayContaining([expect.objectContaining({ schoolId: dx1, lessonId: songs.id })]),
    );

    const apply = await t
      .http()
      .post('/api/v1/assignments/match')
      .set(as)
      .send({ regionId: province.id })
      .expect(202);
    const applyJob = await waitForJob(t, bureau, apply.body.jobId as string);
    // One proposal per gap; a lesson that fills several grades is assigned once.
    const pairs = new Set(proposed.map((p) => `${p.schoolId}/${p.lessonId}`));
    expect(applyJob.result.created).toBe(pairs.size);
    const assigned = await t.http().get(`/api/v1/assignments?schoolId=${dx1}`).set(as).expect(200);
    expect(
      assigned.body.items.filter((a: { source: string }) => a.source === 'gap-match').length,
    ).toBeGreaterThanOrEqual(2);

    // Due by the end of today in the school's zone: its one half-hour window at 1 kbit/s brings
    // 225 KB a day at most, so 300 KB is late whatever the time of day the test runs.
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(
      new Date(),
    );
    const urgent = await publishedLesson(
      t,
      bureau,
      { title: 'Urgent notice', subject: 'other', grades: [1] },
      300 * 1024,
    );
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as)
      .send({ lessonId: urgent.id, schoolIds: [dx1], dueDate: today, priority: 1 })
      .expect(201);

    const plan = await t.http().get(`/api/v1/schools/${dx1}/plan`).set(as).expect(200);
    const items = plan.body.items as {
      lessonId: string;
      late: boolean;
      reasons: string[];
      estimatedArrival: string;
    }[];
    expect(items.map((i) => i.lessonId)).toEqual(
      expect.arrayContaining([safety.id, phonics.id, songs.id, urgent.id]),
    );
    const late = items.find((i) => i.lessonId === urgent.id);
    expect(late).toMatchObject({ late: true, reasons: ['late'] });
    expect(plan.body.storage).toMatchObject({ fits: true });
  });
});
