import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { BroadcastService } from '../src/modules/broadcast/broadcast.service';
import {
  Actor,
  createBureauUser,
  createLesson,
  createViewer,
  loginAdmin,
  openLink,
  school,
  waitForJob,
} from './support/factories';
import { createSchool } from './support/sync';
import { until } from './support/wait';
import { TestApp, startTestApp } from './support/test-app';

interface BundleRow {
  id: string;
  state: string;
  audience: { type: string; id: string };
  lessons: { lessonId: string; version: number }[];
}

/** A PDF of `size` bytes: stored as is, no rendition to wait for. */
const pdf = (size: number) =>
  Buffer.concat([
    Buffer.from('%PDF-1.4\n'),
    randomBytes(size - 20),
    Buffer.from('\n%%EOF\n'.padEnd(11)),
  ]);

describe('broadcast planning: what many receivers need goes on the carousel, the rest by unicast', () => {
  let t: TestApp;
  let admin: Actor;
  let bureau: Actor;
  const as = (a: Actor) => ({ Authorization: `Bearer ${a.token}` });

  beforeAll(async () => {
    t = await startTestApp({
      NEED_DEBOUNCE_SECONDS: '0',
      ZSTD_LEVEL: '1',
      BROADCAST_RATE_KBPS: '8000',
      BROADCAST_CYCLES: '2',
    });
    admin = await loginAdmin(t);
    bureau = await createBureauUser(t, admin);
  });
  afterAll(() => t.close());

  const bundles = async (schoolId: string): Promise<BundleRow[]> =>
    (await t.http().get(`/api/v1/bundles?schoolId=${schoolId}`).set(as(admin)).expect(200)).body
      .items as BundleRow[];

  it('decides per item with its reason, builds one broadcast bundle, schedules it and shows the arrival', async () => {
    const regionId = bureau.regionId as string;
    const make = (code: string, receiver: boolean) =>
      createSchool(t, bureau, code, openLink(receiver));
    const receivers = [
      await make('BC-1', true),
      await make('BC-2', true),
      await make('BC-3', true),
    ];
    const plain = await make('BC-4', false);

    const shared = await createLesson(t, bureau, { subject: 'english', grades: [3] });
    await t
      .http()
      .post(`/api/v1/lessons/${shared.id}/files`)
      .set(as(bureau))
      .attach('file', pdf(300_000), 'term.pdf')
      .expect(201);
    await t.http().post(`/api/v1/lessons/${shared.id}/publish`).set(as(bureau)).expect(200);
    const own = await createLesson(t, bureau, { subject: 'music', grades: [3] });
    await t
      .http()
      .post(`/api/v1/lessons/${own.id}/files`)
      .set(as(bureau))
      .attach('file', pdf(50_000), 'songs.pdf')
      .expect(201);
    await t.http().post(`/api/v1/lessons/${own.id}/publish`).set(as(bureau)).expect(200);

    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: shared.id, schoolIds: [...receivers, plain], dueDate: '2027-03-01' })
      .expect(201);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: own.id, schoolIds: [receivers[0]] })
      .expect(201);
    // Wait for each school's bundle to bring everything assigned to it (receivers[0] also gets
    // `own`), so planning sees the settled need rather than a first bundle built in between.
    for (const s of [...receivers, plain]) {
      const wanted = s === receivers[0] ? [shared.id, own.id] : [shared.id];
      await until(`unicast bundle of ${s}`, async () =>
        (await bundles(s)).find(
          (b) =>
            b.state === 'ready' && wanted.every((id) => b.lessons.some((l) => l.lessonId === id)),
        ),
      );
    }

    // Viewers and bureaus see no broadcast planning; bad filters are refused.
    await t.http().post('/api/v1/broadcast/plan').set(as(bureau)).expect(403);
    const viewer = await createViewer(t, admin, regionId);
    await t.http().get('/api/v1/broadcast/decisions').set(as(viewer)).expect(403);
    const bad = await t
      .http()
      .get('/api/v1/broadcast/decisions?via=carrier-pigeon')
      .set(as(admin))
      .expect(422);
    expect(bad.body.code).toBe('validation_failed');

    const job = await t.http().post('/api/v1/broadcast/plan').set(as(admin)).expect(202);
    const done = await waitForJob(t, admin, job.body.jobId as string);
    expect(done.state).toBe('completed');
    expect(done.result).toMatchObject({ broadcastItems: 1, schoolsReplanned: 3 });

    const decisions = (await t.http().get('/api/v1/broadcast/decisions').set(as(admin)).expect(200))
      .body;
    const byLesson = new Map(
      (decisions.items as { lessonId: string; bundleId: string }[]).map((d) => [d.lessonId, d]),
    );
    expect(byLesson.get(shared.id)).toMatchObject({
      via: 'broadcast',
      reason: 'broadcast_cheaper',
      schools: 3,
      bytes: 300_000,
      unicastBytes: 900_000,
    });
    expect(byLesson.get(own.id)).toMatchObject({
      via: 'unicast',
      reason: 'too_few_schools',
      schools: 1,
    });
    const broadcastBundleId = byLesson.get(shared.id)!.bundleId;

    // One broadcast bundle, built by the same path, serves the three receivers.
    const built = await until('the broadcast bundle', async () => {
      const res = await t.http().get(`/api/v1/bundles/${broadcastBundleId}`).set(as(admin));
      return res.body.state === 'ready'
        ? (res.body as BundleRow & { schoolIds: string[] })
        : undefined;
    });
    expect(built.audience).toEqual({ type: 'group', id: expect.stringMatching(/^broadcast-/) });
    expect(built.lessons).toEqual([{ lessonId: shared.id, version: 1 }]);
    expect(built.schoolIds).toEqual([...receivers].sort());

    // Unicast bundles leave out what the broadcast brings; the plain school keeps its own.
    // (Receivers 2 and 3 shared their unicast bundle with the plain school, which still uses it.)
    const ds = t.app.get(DataSource);
    const liveFor = async (schoolId: string) =>
      (
        await ds.query<{ bundle_id: string }[]>(
          `SELECT bundle_id FROM bundle_school WHERE school_id = $1 AND superseded_at IS NULL`,
          [schoolId],
        )
      ).map((r) => r.bundle_id);
    await until('unicast replanned', async () => {
      const live = await liveFor(receivers[1]);
      return live.length === 1 && live[0] === broadcastBundleId ? true : undefined;
    });
    // The school's bundle list is its history (a first bundle built before `own` was assigned may
    // be in it, still ready for the schools that share it): look at the live one.
    const first = await until('receiver 1 unicast without the shared lesson', async () => {
      const live = (await liveFor(receivers[0])).filter((id) => id !== broadcastBundleId);
      if (live.length !== 1) return undefined;
      const res = await t.http().get(`/api/v1/bundles/${live[0]}`).set(as(admin)).expect(200);
      const b = res.body as BundleRow;
      return b.state === 'ready' && b.lessons.length === 1 ? b : undefined;
    });
    expect(first.lessons).toEqual([{ lessonId: own.id, version: 1 }]);
    const plainBundles = (await bundles(plain)).filter((b) => b.state === 'ready');
    expect(plainBundles.map((b) => b.lessons)).toEqual([[{ lessonId: shared.id, version: 1 }]]);

    // The carousel slot, and each receiver's plan shows the broadcast arrival.
    const schedule = (await t.http().get('/api/v1/broadcast/schedule').set(as(admin)).expect(200))
      .body.items as {
      bundleId: string;
      state: string;
      firstCycleEndsAt: string;
      cycles: number;
    }[];
    const slot = schedule.find((s) => s.bundleId === broadcastBundleId)!;
    expect(slot).toMatchObject({ state: 'scheduled', cycles: 2, dueDate: '2027-03-01' });
    const plan = (
      await t.http().get(`/api/v1/schools/${receivers[2]}/plan`).set(as(bureau)).expect(200)
    ).body;
    expect(plan.items).toEqual([
      expect.objectContaining({
        lessonId: shared.id,
        reasons: ['broadcast'],
        late: false,
      }),
    ]);
    // The reconcile timer lays the carousel again from "now" while nothing is on the air.
    const arrival = Date.parse(plan.items[0].estimatedArrival as string);
    expect(Math.abs(arrival - Date.parse(slot.firstCycleEndsAt))).toBeLessThan(120_000);
    const plainPlan = (
      await t.http().get(`/api/v1/schools/${plain}/plan`).set(as(bureau)).expect(200)
    ).body;
    expect(plainPlan.items[0].reasons).toEqual([]);

    // Planning again changes nothing: same bundle, no duplicate.
    const again = await waitForJob(
      t,
      admin,
      (await t.http().post('/api/v1/broadcast/plan').set(as(admin)).expect(202)).body
        .jobId as string,
    );
    expect(again.result).toMatchObject({ broadcastItems: 0 });
    const after = (await t.http().get('/api/v1/broadcast/schedule').set(as(admin)).expect(200)).body
      .items as unknown[];
    expect(after).toHaveLength(1);
  });

  it('reported loss tunes the repair overhead of the region', async () => {
    const regionId = bureau.regionId as string;
    const s = (
      await t
        .http()
        .post('/api/v1/schools')
        .set(as(bureau))
        .send(school('BC-LOSS', regionId))
        .expect(201)
    ).body.id as string;
    const svc = t.app.get(BroadcastService);
    expect(await svc.recordReceipt(s, { via: 'http', loss: null })).toBeNull();
    expect(
      await svc.recordReceipt(s, {
        via: 'broadcast',
        loss: { symbolsExpected: 0, symbolsReceived: 0 },
      }),
    ).toBeNull();
    expect(
      await svc.recordReceipt(s, {
        via: 'broadcast',
        loss: { symbolsExpected: 1000, symbolsReceived: 800 },
      }),
    ).toBeCloseTo(0.2, 4);
    await svc.recordReceipt(s, {
      via: 'broadcast',
      loss: { symbolsExpected: 1000, symbolsReceived: 1000 },
    });
    const loss = (await t.http().get('/api/v1/broadcast/loss').set(as(admin)).expect(200)).body;
    const row = (
      loss.items as { regionId: string; loss: number; overhead: number; samples: number }[]
    ).find((r) => r.regionId === regionId)!;
    expect(row.samples).toBe(2);
    expect(row.loss).toBeCloseTo(0.16, 3);
    expect(row.overhead).toBeGreaterThan(0.25);
  });
});
