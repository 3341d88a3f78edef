import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { FluteReceiver, type ReceivedFile } from '../src/broadcast';
import { CoverageRefresher } from '../src/modules/coverage/coverage.refresher';
import { bundleLocation } from '../src/protocol/broadcast';
import {
  Actor,
  createBureauUser,
  createLesson,
  loginAdmin,
  openLink,
  waitForJob,
} from './support/factories';
import { createSchool } from './support/sync';
import { until } from './support/wait';
import { TestApp, startTestApp } from './support/test-app';

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const pdf = (size: number) =>
  Buffer.concat([
    Buffer.from('%PDF-1.4\n'),
    randomBytes(size - 20),
    Buffer.from('\n%%EOF\n'.padEnd(11)),
  ]);

/** The broadcast role inside a whole Classcast: plan -> build -> carousel on the air -> coverage. */
describe('broadcast role: the carousel sender puts planned broadcast bundles on the air', () => {
  let t: TestApp;
  let admin: Actor;
  let bureau: Actor;
  let receiver: FluteReceiver;
  let stateDir: string;
  const files: ReceivedFile[] = [];
  const as = (a: Actor) => ({ Authorization: `Bearer ${a.token}` });

  beforeAll(async () => {
    const port = await freePort();
    stateDir = await mkdtemp(join(tmpdir(), 'classcast-rx-'));
    receiver = await FluteReceiver.start({ tsi: 9, port, address: '127.0.0.1', stateDir });
    receiver.on('file', (f: ReceivedFile) => files.push(f));
    t = await startTestApp({
      NEED_DEBOUNCE_SECONDS: '0',
      ZSTD_LEVEL: '1',
      BROADCAST_ADDRESSES: `127.0.0.1:${port}`,
      BROADCAST_TSI: '9',
      BROADCAST_RATE_KBPS: '20000',
      BROADCAST_CYCLES: '2',
      COVERAGE_REFRESH_SECONDS: '1',
    });
    admin = await loginAdmin(t);
    bureau = await createBureauUser(t, admin);
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('sends the bundle for its cycles, marks the slot done, and books satellite bytes by broadcast', async () => {
    const regionId = bureau.regionId as string;
    const ids: string[] = [];
    for (const code of ['TX-1', 'TX-2', 'TX-3'])
      ids.push(await createSchool(t, bureau, code, openLink(true)));
    const lesson = await createLesson(t, bureau, { subject: 'english', grades: [3] });
    await t
      .http()
      .post(`/api/v1/lessons/${lesson.id}/files`)
      .set(as(bureau))
      .attach('file', pdf(2_000_000), 'term.pdf')
      .expect(201);
    await t.http().post(`/api/v1/lessons/${lesson.id}/publish`).set(as(bureau)).expect(200);
    await t
      .http()
      .post('/api/v1/assignments')
      .set(as(bureau))
      .send({ lessonId: lesson.id, schoolIds: ids })
      .expect(201);
    await until('unicast bundles', async () => {
      const res = await t
        .http()
        .get(`/api/v1/bundles?schoolId=${ids[2]}&state=ready`)
        .set(as(admin));
      return res.body.items.length > 0 ? true : undefined;
    });
    const job = await t.http().post('/api/v1/broadcast/plan').set(as(admin)).expect(202);
    expect((await waitForJob(t, admin, job.body.jobId as string)).result).toMatchObject({
      broadcastItems: 1,
    });

    const slot = await until('the slot sent', async () => {
      const res = await t.http().get('/api/v1/broadcast/schedule').set(as(admin)).expect(200);
      const s = (
        res.body.items as {
          state: string;
          bundleId: string;
          sha256: string;
          cyclesSent: number;
          bytesSent: number;
        }[]
      )[0];
      return s?.state === 'done' ? s : undefined;
    });
    expect(slot.cyclesSent).toBe(2);
    const bundle = (
      await t.http().get(`/api/v1/bundles/${slot.bundleId}`).set(as(admin)).expect(200)
    ).body;
    expect(slot.sha256).toBe(bundle.sha256);
    // Two cycles of the bundle plus repair symbols and headers went on the air.
    expect(slot.bytesSent).toBeGreaterThan(2 * bundle.bundleBytes);
    expect(slot.bytesSent).toBeLessThan(2.6 * bundle.bundleBytes);

    // A receiver on the configured address got the bundle, byte for byte.
    const got = await until('the bundle at the receiver', () =>
      Promise.resolve(files.find((f) => f.contentLocation === bundleLocation(slot.bundleId))),
    );
    const bytes = await readFile(got.path);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(bundle.sha256);

    // Coverage shows the satellite bytes by broadcast and what they saved.
    const refresher = t.app.get(CoverageRefresher);
    const summary = await until('coverage bytes', async () => {
      await refresher.refresh();
      const res = await t
        .http()
        .get(`/api/v1/coverage/summary?regionId=${regionId}`)
        .set(as(admin))
        .expect(200);
      return res.body.bytes.broadcast > 0 ? res.body : undefined;
    });
    expect(summary.bytes.broadcast).toBe(slot.bytesSent);
    expect(summary.bytes.savedByBroadcast).toBeGreaterThan(0);

    const ds = t.app.get(DataSource);
    const [row] = await ds.query<{ finished_at: Date | null }[]>(
      `SELECT finished_at FROM broadcast_slot WHERE bundle_id = $1`,
      [slot.bundleId],
    );
    expect(row.finished_at).not.toBeNull();
  }, 240_000);
});
