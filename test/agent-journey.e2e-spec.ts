import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { libraryProblems, readIndex, runAgent, spawnAgent } from './support/agent-cli';
import { Actor, createBureauUser, loginAdmin } from './support/factories';
import { FaultProxy, randomOffsets } from './support/fault-proxy';
import {
  assign,
  bearer,
  createSchool,
  lessonWithFiles,
  pdfBytes,
  waitForManifest,
} from './support/sync';
import { TestApp, startTestApp } from './support/test-app';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Done when: publish -> assign -> bundle -> the agent syncs through a faulty link (cuts and a
 * flipped byte) -> receipts -> holdings -> the offline library serves the lesson.
 */
describe('agent journey through the real server and a faulty link', () => {
  let t: TestApp;
  let bureau: Actor;
  let proxy: FaultProxy;
  let dir: string;

  beforeAll(async () => {
    t = await startTestApp({
      NEED_DEBOUNCE_SECONDS: '0',
      ZSTD_LEVEL: '1',
      SYNC_MANIFEST_DEBOUNCE_MS: '0',
    });
    bureau = await createBureauUser(t, await loginAdmin(t));
    proxy = await FaultProxy.start(t.url);
    dir = await mkdtemp(join(tmpdir(), 'classcast-journey-'));
  }, 120_000);
  afterAll(async () => {
    await proxy.close();
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publish, assign, bundle, sync through cuts and a flipped byte, receipts, holdings, served offline', async () => {
    const schoolId = await createSchool(t, bureau, 'AGENT-J1');
    const code = await t
      .http()
      .post(`/api/v1/schools/${schoolId}/enrollment-codes`)
      .set(bearer(bureau.token))
      .expect(201);
    const enroll = await runAgent([
      'enroll',
      '--server',
      proxy.url,
      '--code',
      code.body.code as string,
      '--dir',
      dir,
      '--name',
      'Classroom 1',
    ]);
    expect(enroll.code).toBe(0);
    const token = (await readFile(join(dir, 'token'), 'utf8')).trim();

    const reader = pdfBytes(3_000_000);
    const lessonId = await lessonWithFiles(t, bureau, { 'reader.pdf': reader });
    await assign(t, bureau, lessonId, [schoolId]);
    const { payload } = await waitForManifest(t, token, (p) => p.bundles.length > 0);
    const bundle = payload.bundles[0];

    proxy.plan = {
      cuts: randomOffsets(5, 2000, bundle.size - 2000, 5),
      flips: [Math.floor(bundle.size * 0.6)],
      bodyPath: /\/sync\/bundles\//,
    };
    const run = await runAgent([
      'sync',
      '--dir',
      dir,
      '--retry-base-ms',
      '50',
      '--connections',
      '2',
    ]);
    if (run.code !== 0) throw new Error(run.stderr);
    expect(proxy.cutsDone).toBe(5);
    expect(proxy.flipsDone).toBe(1);
    expect(run.stderr).toContain('corrupt bytes detected');
    const index = await readIndex(dir);
    expect(Object.keys(index.lessons)).toEqual([lessonId]);
    expect(await libraryProblems(dir)).toEqual([]);

    // The receipt and the inventory made the school a holder of the lesson.
    const holdings = await t
      .http()
      .get(`/api/v1/schools/${schoolId}/holdings`)
      .set(bearer(bureau.token))
      .expect(200);
    expect(holdings.body.items).toEqual([expect.objectContaining({ lessonId, version: 1 })]);

    const child = spawnAgent(['serve', '--dir', dir, '--port', '0', '--host', '127.0.0.1']);
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', () => reject(new Error('serve exited')));
      });
      const home = await (await fetch(`${base}/`)).text();
      expect(home).toContain(`/lessons/${lessonId}/`);
      // Shelved by subject and grade, under its title, from the signed manifest.
      expect(home).toContain('English 英语');
      expect(home).toContain('Grade 3');
      expect(home).not.toContain('Unsorted');
      const page = await (await fetch(`${base}/lessons/${lessonId}/`)).text();
      expect(page).toContain('reader.pdf');
      const pdf = await fetch(`${base}/lessons/${lessonId}/files/reader.pdf`);
      expect(pdf.headers.get('content-type')).toBe('application/pdf');
      expect(sha256(Buffer.from(await pdf.arrayBuffer()))).toBe(sha256(reader));
    } finally {
      child.kill('SIGTERM');
    }
  });
});
