import { Client } from 'pg';
import {
  ServerProcess,
  freePort,
  processEnvironment,
  startServerProcess,
} from './support/server-process';

/** Subtitle-like text: compressible, but slow to squeeze at zstd's top levels. */
function captions(bytes: number): Buffer {
  const words = [
    'rhythm',
    'melody',
    '节奏',
    '旋律',
    'sing',
    'clap',
    'listen',
    '唱歌',
    'beat',
    'tempo',
    'note',
  ];
  let seed = 12345;
  const lines: string[] = ['WEBVTT', ''];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const parts: string[] = [];
    for (let j = 0; j < 12; j++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      parts.push(words[seed % words.length]);
    }
    const line = `${i}\n00:00:${String(i % 60).padStart(2, '0')}.000 --> 00:00:${String((i + 1) % 60).padStart(2, '0')}.000\n${parts.join(' ')} ${seed}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('\n'));
}

/**
 * The worker killed with SIGKILL in the middle of a build: the job is retried after the restart,
 * no half-written bundle is ever offered, and the result is byte-identical to a clean build.
 */
describe('a build killed mid-way', () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    ({ env, cleanup } = await processEnvironment('crash', {
      ROLE: 'all',
      NODE_ENV: 'test',
      NEED_DEBOUNCE_SECONDS: '0',
      ZSTD_LEVEL: '19',
      JOB_LOCK_SECONDS: '3',
      JOB_STALLED_SECONDS: '2',
      JOB_BACKOFF_SECONDS: '1',
    }));
  });

  afterAll(async () => {
    await server?.kill('SIGKILL');
    await cleanup();
  });

  it('retries after SIGKILL, offers nothing half-built, and ends byte-identical to a clean build', async () => {
    server = await startServerProcess(env, await freePort());
    const api = () => `${(server as ServerProcess).url}/api/v1`;
    const call = async (path: string, token: string | null, method = 'GET', body?: unknown) => {
      const res = await fetch(`${api()}${path}`, {
        method,
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          'Content-Type': 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
    };
    const admin = (
      await call('/auth/login', null, 'POST', {
        email: env.ADMIN_EMAIL,
        password: env.ADMIN_PASSWORD,
      })
    ).body.accessToken as string;
    const region = (
      await call('/regions', admin, 'POST', { code: 'CR', name: 'CR', level: 'province' })
    ).body;
    const bureau = (
      await call('/bureaus', admin, 'POST', { name: 'CR bureau', regionId: region.id })
    ).body;
    const lesson = (
      await call('/lessons', admin, 'POST', {
        title: 'Crash',
        subject: 'music',
        grades: [1],
        language: 'zh-CN',
        bureauId: bureau.id,
      })
    ).body;
    const form = new FormData();
    form.append('file', new Blob([captions(8 * 1024 * 1024)]), 'captions.vtt');
    const up = await fetch(`${api()}/lessons/${lesson.id as string}/files`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${admin}` },
      body: form,
    });
    expect(up.status).toBe(201);
    await call(`/lessons/${lesson.id as string}/publish`, admin, 'POST');
    const school = (
      await call('/schools', admin, 'POST', {
        code: 'CR-1',
        name: 'CR-1',
        regionId: region.id,
        pupils: 10,
        grades: [1],
        link: { downlinkKbps: 1000, timezone: 'Asia/Shanghai' },
        storageCapacityMb: 10000,
      })
    ).body;
    await call('/assignments', admin, 'POST', { lessonId: lesson.id, schoolIds: [school.id] });

    const pg = new Client({ connectionString: env.DATABASE_URL });
    await pg.connect();
    try {
      const bundleState = async () =>
        (
          await pg.query<{ id: string; state: string; sha256: string | null }>(
            `SELECT id, state, trim(sha256) AS sha256 FROM bundle`,
          )
        ).rows[0];
      for (let i = 0; i < 600 && (await bundleState())?.state !== 'building'; i++)
        await new Promise((r) => setTimeout(r, 50));
      const building = await bundleState();
      expect(building.state).toBe('building');
      await new Promise((r) => setTimeout(r, 500 + Math.floor(Math.random() * 1000)));
      await server.kill('SIGKILL');

      // Nothing half-built is recorded or stored as a bundle.
      const afterKill = await bundleState();
      expect(afterKill.sha256).toBeNull();
      const blobs = await pg.query(
        `SELECT count(*)::int AS n FROM blob WHERE media_type = 'application/x-tar'`,
      );
      expect(blobs.rows[0].n).toBe(0);

      server = await startServerProcess(env, await freePort());
      const unready = await call(`/bundles/${building.id}/download`, admin);
      expect([409, 200]).toContain(unready.status);
      let ready = await bundleState();
      // Deadlines, not speed limits: a loaded machine builds slowly, a hung build never.
      for (const end = Date.now() + 240_000; Date.now() < end && ready.state !== 'ready';) {
        await new Promise((r) => setTimeout(r, 100));
        ready = await bundleState();
      }
      expect(ready.state).toBe('ready');
      const first = ready.sha256;

      // Build the same plan again from scratch: the same bytes.
      await pg.query(
        `UPDATE bundle SET state = 'queued', sha256 = NULL, bundle_bytes = NULL WHERE id = $1`,
        [ready.id],
      );
      await pg.query(`DELETE FROM blob WHERE sha256 = $1`, [first]);
      const rebuild = await call(`/schools/${school.id as string}/bundles`, admin, 'POST');
      expect(rebuild.status).toBe(202);
      let again = await bundleState();
      for (const end = Date.now() + 240_000; Date.now() < end && again.state !== 'ready';) {
        await new Promise((r) => setTimeout(r, 100));
        again = await bundleState();
      }
      expect(again.sha256).toBe(first);
    } finally {
      await pg.end();
    }
  }, 600_000);
});
