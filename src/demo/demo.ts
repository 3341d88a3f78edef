import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { randomBytes } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AppModule } from '../app/app.module';
import { configureHttp } from '../app/http';
import { EnvError, loadEnv } from '../config/env';
import { makeAudio, makePdf, makeVideo } from './demo-media';
import {
  DEMO_COUNTIES,
  DEMO_LESSONS,
  DEMO_PREFECTURE,
  DEMO_PROVINCE,
  schoolsCsv,
} from './demo-world';

/**
 * `npm run demo`: starts Classcast (api and worker) on the configured database, seeds a small
 * province through the HTTP API (regions, a bureau, 50 schools with teacher gaps, 12 lessons
 * with ffmpeg-made media), lets matching and packaging run, enrolls terminals for a few schools,
 * prints the dashboard address and a login, and keeps serving until Ctrl-C.
 */

const say = (msg: string) => console.log(`demo: ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Client {
  token = '';
  constructor(readonly base: string) {}

  async call<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let payload: FormData | string | undefined;
    if (body instanceof FormData) payload = body;
    else if (typeof body === 'string') {
      payload = body;
      headers['Content-Type'] = contentType ?? 'text/plain';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(`${this.base}/api/v1${path}`, { method, headers, body: payload });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get = <T>(path: string) => this.call<T>('GET', path);
  post = <T>(path: string, body?: unknown, contentType?: string) =>
    this.call<T>('POST', path, body ?? {}, contentType);

  async login(email: string, password: string): Promise<void> {
    this.token = '';
    const r = await this.post<{ accessToken: string }>('/auth/login', { email, password });
    this.token = r.accessToken;
  }

  async waitForJob(jobId: string, what: string, timeoutMs = 600_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.get<{ state: string; result?: unknown; error?: string }>(
        `/jobs/${jobId}`,
      );
      if (job.state === 'completed') return job.result;
      if (job.state === 'failed') throw new Error(`${what} failed: ${job.error ?? ''}`);
      if (Date.now() > deadline) throw new Error(`${what} still ${job.state}`);
      await sleep(500);
    }
  }
}

interface Region {
  id: string;
  code: string;
}
interface Page<T> {
  items: T[];
  total: number;
}

async function findRegion(c: Client, code: string, parentId?: string): Promise<Region | null> {
  const q = parentId ? `?parentId=${parentId}&pageSize=500` : '?pageSize=500';
  const page = await c.get<Page<Region>>(`/regions${q}`);
  return page.items.find((r) => r.code === code) ?? null;
}

async function region(
  c: Client,
  spec: { code: string; name: string },
  level: string,
  parentId?: string,
): Promise<Region> {
  return (
    (await findRegion(c, spec.code, parentId)) ??
    (await c.post<Region>('/regions', { ...spec, level, parentId }))
  );
}

async function seed(c: Client, env: { adminEmail: string; adminPassword: string }) {
  await c.login(env.adminEmail, env.adminPassword);
  if (await findRegion(c, DEMO_PROVINCE.code)) {
    say(`the demo province (${DEMO_PROVINCE.code}) is already there: not seeding it again`);
    return null;
  }
  say('regions: a province, a prefecture, four counties');
  const province = await region(c, DEMO_PROVINCE, 'province');
  const prefecture = await region(c, DEMO_PREFECTURE, 'prefecture', province.id);
  const counties: Region[] = [];
  for (const county of DEMO_COUNTIES)
    counties.push(await region(c, county, 'county', prefecture.id));

  const bureau = await c.post<{ id: string }>('/bureaus', {
    name: '甘肃省教育厅（演示）',
    regionId: province.id,
  });
  const bureauUser = {
    email: `demo-bureau-${randomBytes(3).toString('hex')}@classcast.local`,
    password: randomBytes(8).toString('hex'),
  };
  await c.post('/users', { ...bureauUser, role: 'bureau', bureauId: bureau.id });

  say('schools: importing 50 from CSV');
  const imported = await c.post<{ jobId: string }>('/schools/import', schoolsCsv(), 'text/csv');
  const result = (await c.waitForJob(imported.jobId, 'school import')) as {
    inserted: number;
    rejected: unknown[];
  };
  say(`  ${result.inserted} schools imported, ${result.rejected.length} rejected`);

  const work = await mkdtemp(join(tmpdir(), 'classcast-demo-'));
  const lessonIds: string[] = [];
  try {
    await c.login(bureauUser.email, bureauUser.password);
    say('lessons: 12, with video, audio and PDF made by ffmpeg (a minute or two)');
    for (const [i, spec] of DEMO_LESSONS.entries()) {
      const lesson = await c.post<{ id: string }>('/lessons', {
        title: spec.title,
        subject: spec.subject,
        grades: spec.grades,
        language: 'zh-CN',
        description: '演示课程：由 ffmpeg 生成的测试画面和声音',
        teacherlessReady: true,
      });
      const media =
        spec.media.kind === 'video'
          ? await makeVideo(work, `lesson-${i + 1}.mp4`, spec.media.pattern, spec.media.hz)
          : await makeAudio(work, `lesson-${i + 1}.mp3`, spec.media.hz);
      const handout = await makePdf(work, `handout-${i + 1}.pdf`, `Classcast demo lesson ${i + 1}`);
      for (const file of [media, handout]) {
        const form = new FormData();
        form.set('file', await openAsBlob(file), basename(file));
        await c.post(`/lessons/${lesson.id}/files`, form);
      }
      await c.post(`/lessons/${lesson.id}/publish`);
      lessonIds.push(lesson.id);
      say(`  ${i + 1}/12 ${spec.title}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  await c.login(env.adminEmail, env.adminPassword);
  say('matching: filling teacher gaps with the published lessons');
  const match = await c.post<{ jobId: string }>('/assignments/match', { regionId: province.id });
  const matched = (await c.waitForJob(match.jobId, 'matching')) as { created?: number };
  say(`  ${matched.created ?? 0} assignments made by matching`);
  // One manual assignment due tomorrow, so the plan shows what is late on slow links.
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const manual = await c.post<{ created?: number }>('/assignments', {
    lessonId: lessonIds[0],
    regionId: counties[1].id,
    dueDate: tomorrow,
    priority: 2,
  });
  say(`  ${manual.created ?? 0} assignments due ${tomorrow} in ${DEMO_COUNTIES[1].name}`);
  return { province, counties, bureauUser };
}

async function waitForBundles(c: Client, timeoutMs: number): Promise<number> {
  say('packaging: waiting for renditions and bundles (a few minutes on a small machine)');
  const deadline = Date.now() + timeoutMs;
  let ready = 0;
  let last = -1;
  while (Date.now() < deadline) {
    const page = await c.get<Page<unknown>>('/bundles?state=ready&pageSize=1');
    ready = page.total;
    if (ready !== last) say(`  ${ready} bundles ready`);
    last = ready;
    if (ready >= 10) break;
    await sleep(5000);
  }
  return ready;
}

async function enrollTerminals(c: Client): Promise<number> {
  const schools = await c.get<Page<{ id: string; name: string }>>('/schools?q=DEMO-&pageSize=5');
  let n = 0;
  for (const s of schools.items) {
    const existing = await c.get<Page<unknown>>(`/schools/${s.id}/terminals`);
    if (existing.total > 0) continue;
    const code = await c.post<{ code: string }>(`/schools/${s.id}/enrollment-codes`);
    const res = await fetch(`${c.base}/api/v1/sync/enroll`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: code.code, name: 'classroom-1', agentVersion: 'demo' }),
    });
    if (res.ok) n++;
    else say(`  enrolling a terminal at ${s.name} failed: ${res.status} ${await res.text()}`);
  }
  return n;
}

async function main(): Promise<void> {
  let env;
  try {
    env = loadEnv();
  } catch (err) {
    if (err instanceof EnvError) {
      console.error(`${err.message}\nRun it as npm run demo (it reads .env), or see .env.example.`);
      process.exit(78);
    }
    throw err;
  }
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRole(env), {
    bufferLogs: true,
    bodyParser: false,
  });
  configureHttp(app, env);
  await app.listen(env.port, env.host);
  const base = `http://127.0.0.1:${env.port}`;
  const c = new Client(base);
  const seeded = await seed(c, env);
  await c.login(env.adminEmail, env.adminPassword);
  await waitForBundles(c, 8 * 60_000);
  const terminals = await enrollTerminals(c);
  say(`terminals: ${terminals} enrolled (classroom-1 at the first schools)`);
  say(
    'agent sync: the terminal agent and the sync routes are not in this build yet, so no school ' +
      'has confirmed an install; deliveries show as bundles',
  );
  const host = env.host === '0.0.0.0' ? 'localhost' : env.host;
  console.log('');
  say(`the dashboard: http://${host}:${env.port}/`);
  say(`  administrator: ${env.adminEmail} (password: ADMIN_PASSWORD in .env)`);
  if (seeded) {
    say(`  bureau user:   ${seeded.bureauUser.email} / ${seeded.bureauUser.password}`);
  }
  say('Classcast keeps running (api and worker); stop it with Ctrl-C');
  const stop = () => {
    void app.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
