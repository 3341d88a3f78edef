import { randomBytes } from 'node:crypto';
import { ADMIN, TestApp } from './test-app';

export interface Actor {
  token: string;
  id: string;
  email: string;
  bureauId?: string;
  regionId?: string;
}

const unique = () => randomBytes(4).toString('hex');

export async function login(t: TestApp, email: string, password: string): Promise<Actor> {
  const res = await t.http().post('/api/v1/auth/login').send({ email, password }).expect(200);
  const body = res.body as {
    accessToken: string;
    user: { id: string; bureauId?: string; regionId?: string };
  };
  return {
    token: body.accessToken,
    id: body.user.id,
    email,
    bureauId: body.user.bureauId ?? undefined,
    regionId: body.user.regionId ?? undefined,
  };
}

export const loginAdmin = (t: TestApp) => login(t, ADMIN.email, ADMIN.password);

export async function createRegion(
  t: TestApp,
  admin: Actor,
  fields: { level?: string; parentId?: string; name?: string } = {},
): Promise<{ id: string; code: string }> {
  const code = `R-${unique()}`;
  const res = await t
    .http()
    .post('/api/v1/regions')
    .set('Authorization', `Bearer ${admin.token}`)
    .send({
      code,
      name: fields.name ?? `Region ${code}`,
      level: fields.level ?? 'province',
      parentId: fields.parentId,
    })
    .expect(201);
  return res.body as { id: string; code: string };
}

export async function createBureau(
  t: TestApp,
  admin: Actor,
  regionId: string,
): Promise<{ id: string }> {
  const res = await t
    .http()
    .post('/api/v1/bureaus')
    .set('Authorization', `Bearer ${admin.token}`)
    .send({ name: `Bureau ${unique()}`, regionId })
    .expect(201);
  return res.body as { id: string };
}

/** A bureau of the region (a fresh province when none is given) and a logged-in member of it. */
export async function createBureauUser(
  t: TestApp,
  admin: Actor,
  regionId?: string,
): Promise<Actor> {
  const bureau = await createBureau(t, admin, regionId ?? (await createRegion(t, admin)).id);
  const email = `bureau-${unique()}@classcast.test`;
  const password = 'bureau-password-1';
  await t
    .http()
    .post('/api/v1/users')
    .set('Authorization', `Bearer ${admin.token}`)
    .send({ email, password, role: 'bureau', bureauId: bureau.id })
    .expect(201);
  return login(t, email, password);
}

export async function createViewer(t: TestApp, admin: Actor, regionId: string): Promise<Actor> {
  const email = `viewer-${unique()}@classcast.test`;
  const password = 'viewer-password-1';
  await t
    .http()
    .post('/api/v1/users')
    .set('Authorization', `Bearer ${admin.token}`)
    .send({ email, password, role: 'viewer', regionId })
    .expect(201);
  return login(t, email, password);
}

export async function createLesson(
  t: TestApp,
  actor: Actor,
  fields: Record<string, unknown> = {},
): Promise<{ id: string; draftVersion: number }> {
  const res = await t
    .http()
    .post('/api/v1/lessons')
    .set('Authorization', `Bearer ${actor.token}`)
    .send({
      title: `Lesson ${unique()}`,
      subject: 'music',
      grades: [3],
      language: 'zh-CN',
      ...fields,
    })
    .expect(201);
  return res.body as { id: string; draftVersion: number };
}

/** Bytes that sniff as an MP4 (an ftyp box), followed by filler. */
export function mp4Bytes(size = 4096, seed = 1): Buffer {
  const buf = Buffer.alloc(size);
  const ftyp = Buffer.from([
    0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0, 0, 2, 0,
  ]);
  ftyp.copy(buf, 0);
  Buffer.from('isomiso2avc1mp41').copy(buf, 16);
  let x = seed;
  for (let i = 32; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    buf[i] = x >> 16;
  }
  return buf;
}

export const PDF = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');
export const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4b00000000049454e44ae426082',
  'hex',
);

/** A published lesson with one file of `bytes` bytes. */
export async function publishedLesson(
  t: TestApp,
  actor: Actor,
  fields: Record<string, unknown> = {},
  bytes = 4096,
): Promise<{ id: string }> {
  const lesson = await createLesson(t, actor, fields);
  await t
    .http()
    .post(`/api/v1/lessons/${lesson.id}/files`)
    .set('Authorization', `Bearer ${actor.token}`)
    .attach('file', mp4Bytes(bytes, bytes % 997), 'lecture.mp4')
    .expect(201);
  await t
    .http()
    .post(`/api/v1/lessons/${lesson.id}/publish`)
    .set('Authorization', `Bearer ${actor.token}`)
    .expect(200);
  return lesson;
}

export async function waitForJob(
  t: TestApp,
  actor: Actor,
  jobId: string,
  timeoutMs = 60_000,
): Promise<{ state: string; progress: number; result?: any; error?: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await t
      .http()
      .get(`/api/v1/jobs/${jobId}`)
      .set('Authorization', `Bearer ${actor.token}`)
      .expect(200);
    if (res.body.state === 'completed' || res.body.state === 'failed') return res.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${res.body.state as string}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** School fields for a link that is always open (no receive windows), with or without a receiver. */
export function openLink(broadcastReceiver: boolean) {
  return {
    link: { downlinkKbps: 2000, windows: [], timezone: 'Asia/Shanghai', broadcastReceiver },
  };
}

export function school(code: string, regionId: string, extra: Record<string, unknown> = {}) {
  return {
    code,
    name: `School ${code}`,
    regionId,
    pupils: 120,
    grades: [1, 2, 3, 4, 5, 6],
    teacherGaps: [{ subject: 'english', grades: [3, 4] }],
    link: {
      downlinkKbps: 2000,
      windows: [{ start: '22:00', end: '06:00' }],
      timezone: 'Asia/Shanghai',
    },
    storageCapacityMb: 64000,
    ...extra,
  };
}
