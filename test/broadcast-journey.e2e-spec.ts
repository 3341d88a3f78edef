import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { libraryProblems, readIndex, runAgent, spawnAgent } from './support/agent-cli';
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

async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    ports.push(s.address().port);
    await new Promise<void>((r) => s.close(() => r()));
  }
  return ports;
}

const pdf = (size: number, seed: number) =>
  Buffer.concat([
    Buffer.from(`%PDF-1.4\n%${seed}\n`),
    randomBytes(size - 30),
    Buffer.from('\n%%EOF\n'),
  ]);

/**
 * The whole path on one machine: publish -> assign -> broadcast planning -> the broadcast role's
 * carousel over loopback UDP -> `agent receive` in each school (seeded bursty loss) -> unicast
 * repair by sha256 from the real sync routes -> receipts via=broadcast -> holdings.
 */
describe('broadcast journey: planned, sent by the broadcast role, received by school agents', () => {
  let t: TestApp;
  let admin: Actor;
  let bureau: Actor;
  let work: string;
  let ports: number[];
  const children: import('node:child_process').ChildProcess[] = [];
  const as = (a: Actor) => ({ Authorization: `Bearer ${a.token}` });

  beforeAll(async () => {
    ports = await freePorts(3);
    work = await mkdtemp(join(tmpdir(), 'classcast-bjourney-'));
    t = await startTestApp({
      NEED_DEBOUNCE_SECONDS: '0',
      ZSTD_LEVEL: '1',
      BROADCAST_ADDRESSES: ports.map((p) => `127.0.0.1:${p}`).join(','),
      BROADCAST_TSI: '11',
      BROADCAST_RATE_KBPS: '20000',
      BROADCAST_CYCLES: '2',
      SYNC_MANIFEST_DEBOUNCE_MS: '0',
    });
    admin = await loginAdmin(t);
    bureau = await createBureauUser(t, admin);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await t.close();
    await rm(work, { recursive: true, force: true });
  });

  it('every school installs the term from the carousel; only the stormy one repairs; receipts say broadcast', async () => {
    const schools: string[] = [];
    for (const code of ['BJ-1', 'BJ-2', 'BJ-3'])
      schools.push(await createSchool(t, bureau, code, openLink(true)));
    const dirs = schools.map((_, i) => join(work, `agent-${i}`));
    for (let i = 0; i < schools.length; i++) {
      const code = (
        await t
          .http()
          .post(`/api/v1/schools/${schools[i]}/enrollment-codes`)
          .set(as(bureau))
          .expect(201)
      ).body.code as string;
      const enrolled = await runAgent([
        'enroll',
        '--server',
        t.url,
        '--code',
        code,
        '--dir',
        dirs[i],
        '--insecure-http',
      ]);
      expect({ code: enrolled.code, err: enrolled.stderr.slice(-500) }).toMatchObject({ code: 0 });
    }
    // The receivers listen before the carousel starts; the third sits under a storm.
    const losses = ['5', '5', '60'];
    const done = dirs.map((dir, i) => {
      const child = spawnAgent([
        'receive',
        '--dir',
        dir,
        '--port',
        String(ports[i]),
        '--tsi',
        '11',
        '--timeout',
        '150',
        '--idle',
        '5',
        '--backoff-max-ms',
        '1000',
        '--simulate-loss',
        losses[i],
        '--loss-burst',
        '40',
        '--loss-seed',
        String(i + 1),
      ]);
      children.push(child);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      return new Promise<{ code: number | null; stderr: string }>((resolve) =>
        child.on('close', (code) => resolve({ code, stderr })),
      );
    });
    await new Promise((r) => setTimeout(r, 1000));
    const lessons: string[] = [];
    for (let i = 0; i < 2; i++) {
      const lesson = await createLesson(t, bureau, { subject: 'english', grades: [3] });
      await t
        .http()
        .post(`/api/v1/lessons/${lesson.id}/files`)
        .set(as(bureau))
        .attach('file', pdf(3_000_000 + i * 500_000, i), `unit-${i}.pdf`)
        .expect(201);
      await t.http().post(`/api/v1/lessons/${lesson.id}/publish`).set(as(bureau)).expect(200);
      await t
        .http()
        .post('/api/v1/assignments')
        .set(as(bureau))
        .send({ lessonId: lesson.id, schoolIds: schools, dueDate: '2027-03-01' })
        .expect(201);
      lessons.push(lesson.id);
    }
    for (const s of schools) {
      await until('unicast bundles', async () => {
        const res = await t.http().get(`/api/v1/bundles?schoolId=${s}&state=ready`).set(as(admin));
        return res.body.items.length > 0 ? true : undefined;
      });
    }
    // Planning runs on the reconcile timer too; asking again changes nothing.
    const job = await t.http().post('/api/v1/broadcast/plan').set(as(admin)).expect(202);
    expect((await waitForJob(t, admin, job.body.jobId as string)).state).toBe('completed');
    const decisions = await until('broadcast decisions', async () => {
      const items = (
        await t.http().get('/api/v1/broadcast/decisions?via=broadcast').set(as(admin)).expect(200)
      ).body.items as { lessonId: string; schools: number; reason: string }[];
      return items.length === lessons.length ? items : undefined;
    });
    expect(decisions.map((d) => d.lessonId).sort()).toEqual([...lessons].sort());
    expect(decisions.every((d) => d.schools === 3 && d.reason === 'broadcast_cheaper')).toBe(true);

    const results = await Promise.all(done);
    results.forEach((r, i) =>
      expect({ i, code: r.code, tail: r.code === 0 ? '' : r.stderr.slice(-3000) }).toEqual({
        i,
        code: 0,
        tail: '',
      }),
    );
    const summary = (r: { stderr: string }) =>
      JSON.parse(
        r.stderr.split('\n').find((l) => l.includes('library matches the manifest')) ?? '{}',
      ) as { repairedFiles?: number; bundles?: number };
    expect(summary(results[0])).toMatchObject({ repairedFiles: 0, bundles: 1 });
    expect(summary(results[1])).toMatchObject({ repairedFiles: 0, bundles: 1 });
    expect(summary(results[2]).repairedFiles).toBeGreaterThan(0);

    // Byte for byte the same lessons everywhere.
    const indexes = await Promise.all(dirs.map((d) => readIndex(d)));
    for (let i = 0; i < dirs.length; i++) {
      expect(await libraryProblems(dirs[i])).toEqual([]);
      expect(Object.keys(indexes[i].lessons).sort()).toEqual([...lessons].sort());
      for (const id of lessons) {
        expect(indexes[i].lessons[id].files).toEqual(indexes[0].lessons[id].files);
      }
    }

    // Receipts via broadcast, with loss; holdings follow.
    const ds = t.app.get(DataSource);
    const deliveries = await ds.query<
      {
        school_id: string;
        via: string;
        state: string;
        loss: { symbolsExpected: number; symbolsReceived: number };
      }[]
    >(
      `SELECT school_id, via, state, loss FROM delivery WHERE via = 'broadcast' ORDER BY school_id`,
    );
    expect(deliveries).toHaveLength(3);
    for (const d of deliveries) {
      expect(d.state).toBe('installed');
      expect(d.loss.symbolsExpected).toBeGreaterThan(d.loss.symbolsReceived);
    }
    for (const s of schools) {
      const held = (await t.http().get(`/api/v1/schools/${s}/holdings`).set(as(bureau)).expect(200))
        .body.items as { lessonId: string }[];
      expect(held.map((h) => h.lessonId).sort()).toEqual([...lessons].sort());
    }
  }, 300_000);
});
