import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  ServerProcess,
  freePort,
  processEnvironment,
  startServerProcess,
} from './support/server-process';
import { tusCreate, tusOffset, tusPatchFile } from './support/tus-client';

const SIZE = 200 * 1024 * 1024;

/** A 200 MB "lecture video": an MP4 ftyp box and random bytes, written once, hashed as written. */
async function writeVideo(path: string): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const header = Buffer.from('000000186674797069736f6d0000020069736f6d69736f32', 'hex');
  let written = 0;
  const write = (chunk: Buffer) =>
    new Promise<void>((resolve, reject) => {
      hash.update(chunk);
      written += chunk.length;
      out.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  await write(header);
  while (written < SIZE) await write(randomBytes(Math.min(4 * 1024 * 1024, SIZE - written)));
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return hash.digest('hex');
}

async function json(url: string, token: string | null, method = 'GET', body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      'Content-Type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/**
 * The whole bureau journey against the built server in its own process: log in, create a lesson,
 * upload a 200 MB video over tus, kill the server mid-upload, restart it, resume, publish, find
 * the lesson by search and list its files with their sha256.
 */
describe('upload journey across a server crash', () => {
  let work: string;
  let server: ServerProcess | undefined;
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ env, cleanup } = await processEnvironment('journey', { ROLE: 'all' }));
    work = join(env.DATA_DIR, '..');
  });

  afterAll(async () => {
    await server?.kill('SIGKILL');
    await cleanup();
  });

  it('login -> lesson -> 200 MB tus upload killed and resumed -> publish -> search -> files with sha256', async () => {
    const video = join(work, 'lecture.mp4');
    const digest = await writeVideo(video);
    server = await startServerProcess(env, await freePort());
    const api = `${server.url}/api/v1`;

    const admin = await json(`${api}/auth/login`, null, 'POST', {
      email: env.ADMIN_EMAIL,
      password: env.ADMIN_PASSWORD,
    });
    expect(admin.status).toBe(200);
    const adminToken = admin.body.accessToken as string;
    const region = await json(`${api}/regions`, adminToken, 'POST', {
      code: 'GS',
      name: '甘肃省',
      level: 'province',
    });
    const bureau = await json(`${api}/bureaus`, adminToken, 'POST', {
      name: '甘肃省教育厅',
      regionId: region.body.id,
    });
    await json(`${api}/users`, adminToken, 'POST', {
      email: 'teacher@gs.test',
      password: 'bureau-password-1',
      role: 'bureau',
      bureauId: bureau.body.id,
    });
    const login = await json(`${api}/auth/login`, null, 'POST', {
      email: 'teacher@gs.test',
      password: 'bureau-password-1',
    });
    const token = login.body.accessToken as string;
    const lesson = await json(`${api}/lessons`, token, 'POST', {
      title: '四年级英语：字母与发音 Phonics',
      subject: 'english',
      grades: [4],
      language: 'zh-CN',
      teacherlessReady: true,
    });
    expect(lesson.status).toBe(201);
    const lessonId = lesson.body.id as string;

    const created = await tusCreate(server.url, token, SIZE, {
      lessonId,
      path: 'video/phonics.mp4',
      filename: 'phonics.mp4',
      sha256: digest,
    });
    expect(created.status).toBe(201);
    const location = created.location as string;
    const id = location.split('/').pop() as string;

    // Kill the server with SIGKILL once about 80 MB have reached its disk.
    const patching = tusPatchFile(location, token, video, 0).catch(() => null);
    const staged = join(env.DATA_DIR, 'uploads', id);
    for (let i = 0; i < 600; i++) {
      const size = await stat(staged).then(
        (s) => s.size,
        () => 0,
      );
      if (size >= 80 * 1024 * 1024) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await server.kill('SIGKILL');
    await patching;

    // Nothing partial is visible: no blob in the store, no file in the draft.
    const blobs = await readdir(join(env.DATA_DIR, 'blobs')).catch(() => []);
    expect(blobs).toEqual([]);
    const pg = new Client({ connectionString: env.DATABASE_URL });
    await pg.connect();
    expect((await pg.query('SELECT count(*)::int AS n FROM lesson_file')).rows[0].n).toBe(0);
    expect((await pg.query('SELECT count(*)::int AS n FROM blob')).rows[0].n).toBe(0);
    await pg.end();

    server = await startServerProcess(env, await freePort());
    const resumedLocation = new URL(new URL(location).pathname, server.url).toString();
    const head = await tusOffset(resumedLocation, token);
    expect(head.status).toBe(200);
    expect(head.offset).toBeGreaterThan(0);
    expect(head.offset).toBeLessThan(SIZE);
    const finished = await tusPatchFile(resumedLocation, token, video, head.offset);
    expect(finished.status).toBe(204);

    const api2 = `${server.url}/api/v1`;
    const publish = await json(`${api2}/lessons/${lessonId}/publish`, token, 'POST');
    expect(publish.body).toMatchObject({ publishedVersion: 1, draftVersion: 2 });

    const found = await json(`${api2}/lessons?q=${encodeURIComponent('字母')}`, adminToken);
    expect((found.body.items as { id: string }[]).map((l) => l.id)).toEqual([lessonId]);

    const files = await json(`${api2}/lessons/${lessonId}/versions/1/files`, adminToken);
    expect(files.body.items).toEqual([
      {
        path: 'video/phonics.mp4',
        size: SIZE,
        sha256: digest,
        mediaType: 'video/mp4',
        renditions: [],
      },
    ]);
    // SIGTERM is a graceful stop: the server closes and re-raises the signal, within seconds.
    const started = Date.now();
    const exit = await server.kill('SIGTERM');
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(Date.now() - started).toBeLessThan(30_000);
    server = undefined;
  });
});
