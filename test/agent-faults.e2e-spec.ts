import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, keyIdFor, signBytes } from '../src/modules/signing/ed25519';
import { libraryProblems, noise, readIndex, runAgent, spawnAgent } from './support/agent-cli';
import { FaultProxy, randomOffsets } from './support/fault-proxy';
import { SyncFixture, sha256 } from './support/sync-fixture';

const BUNDLES = /\/sync\/bundles\//;

describe('agent faults: cuts, flipped bytes, refused manifests, kills, a full disk, a failing server', () => {
  let f: SyncFixture;
  let proxy: FaultProxy;
  let dir: string;

  beforeEach(async () => {
    f = await SyncFixture.start();
    proxy = await FaultProxy.start(f.url);
    dir = await mkdtemp(join(tmpdir(), 'classcast-agentf-'));
    const enroll = await runAgent([
      'enroll',
      '--server',
      proxy.url,
      '--code',
      f.code,
      '--dir',
      dir,
    ]);
    expect(enroll.code).toBe(0);
  });
  afterEach(async () => {
    await proxy.close();
    await f.close();
    await rm(dir, { recursive: true, force: true });
  });

  const sync = (...extra: string[]) =>
    runAgent(['sync', '--dir', dir, '--retry-base-ms', '20', '--attempts', '3', ...extra]);
  const bundleBytesServed = () =>
    proxy.log.filter((e) => BUNDLES.test(e.path)).reduce((a, e) => a + e.bytes, 0);

  const bigLesson = async (size = 6_000_000) => {
    const lessonId = randomUUID();
    const video = noise(size, 11);
    await f.publish([
      {
        lessonId,
        version: 1,
        files: [
          { path: 'lecture.mp4', data: video, mediaType: 'video/mp4' },
          {
            path: 'notes.txt',
            data: Buffer.from('practice scales daily\n'.repeat(2000)),
            mediaType: 'text/plain',
          },
        ],
      },
    ]);
    return { lessonId, video };
  };

  it('20 cuts at random offsets: resumes each time, re-fetches at most the range in flight, library correct', async () => {
    const { lessonId, video } = await bigLesson();
    const size = f.bundles[0].size;
    proxy.plan = { cuts: randomOffsets(20, 1000, size - 1000, 20261128), bodyPath: BUNDLES };
    const run = await sync('--connections', '2', '--attempts', '1');
    expect(run.code).toBe(0);
    expect(proxy.cutsDone).toBe(20);
    const bundleRequests = proxy.log.filter((e) => BUNDLES.test(e.path));
    // Every request after a cut asks for a range starting past zero: nothing is fetched twice
    // except what was in flight when the link dropped.
    const restarts = bundleRequests.filter((e, i) => i > 1 && /^bytes=0-/.test(e.range ?? ''));
    expect(restarts).toEqual([]);
    const refetched = bundleBytesServed() - size;
    expect(refetched).toBeGreaterThanOrEqual(0);
    expect(refetched).toBeLessThan(20 * 256 * 1024);
    const index = await readIndex(dir);
    const dirName = index.lessons[lessonId].dir;
    expect(
      sha256(await readFile(join(dir, 'library', 'lessons', lessonId, dirName, 'lecture.mp4'))),
    ).toBe(sha256(video));
    expect(await libraryProblems(dir)).toEqual([]);
  });

  it('a flipped byte: detected, only the damaged member fetched again, nothing bad installed', async () => {
    const { lessonId } = await bigLesson(4_000_000);
    const size = f.bundles[0].size;
    proxy.plan = { flips: [Math.floor(size / 2)], bodyPath: BUNDLES };
    const run = await sync();
    expect(proxy.flipsDone).toBe(1);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('corrupt bytes detected');
    // The 4 MB member again, not the whole bundle twice.
    expect(bundleBytesServed()).toBeLessThan(size + 4_300_000);
    expect(bundleBytesServed()).toBeGreaterThan(size + 3_000_000);
    expect(Object.keys((await readIndex(dir)).lessons)).toEqual([lessonId]);
    expect(await libraryProblems(dir)).toEqual([]);
  });

  describe('manifests that must be refused, with nothing installed', () => {
    beforeEach(async () => {
      await f.publish([
        {
          lessonId: randomUUID(),
          version: 1,
          files: [{ path: 'a.txt', data: Buffer.from('lesson') }],
        },
      ]);
    });

    const expectRefused = async (pattern: RegExp) => {
      const run = await sync();
      expect(run.code).toBe(4);
      expect(run.stderr).toMatch(pattern);
      expect(run.stderr).toContain('nothing installed');
      expect((await readIndex(dir)).lessons).toEqual({});
      expect(proxy.log.filter((e) => BUNDLES.test(e.path))).toEqual([]);
    };

    it('tampered payload', async () => {
      f.envelopeOverride = (env) => ({
        ...env,
        payload: env.payload.replace('"version":', '"version": '),
      });
      await expectRefused(/signature does not match/);
    });

    it('signed by another key', async () => {
      const other = generateKeyPair();
      f.envelopeOverride = (env) => ({
        payload: env.payload,
        keyId: keyIdFor(other.publicKey),
        signature: signBytes(other.seed, Buffer.from(env.payload)).toString('base64'),
      });
      await expectRefused(/does not trust/);
    });

    it("another school's", async () => {
      f.envelopeOverride = () => f.envelope({ ...f.payload(), schoolId: randomUUID() });
      await expectRefused(/is for school/);
    });

    it('expired', async () => {
      f.expiresInMs = -60_000;
      await expectRefused(/expired/);
    });

    it('a replayed older version', async () => {
      expect((await sync()).code).toBe(0);
      await rm(join(dir, 'library'), { recursive: true, force: true });
      await rm(join(dir, 'work'), { recursive: true, force: true });
      proxy.log = [];
      f.version -= 1;
      await expectRefused(/older than version/);
    });
  });

  it('SIGKILL at random points during sync and install: the library is always consistent, and complete after a restart', async () => {
    const make = (version: number) =>
      Array.from({ length: 4 }, (_, n) => ({
        lessonId: ids[n],
        version,
        files: Array.from({ length: 20 }, (_, i) => ({
          path: `pages/${i}.html`,
          data: Buffer.from(`<p>v${version} lesson ${n} page ${i}</p>`.repeat(50 + i)),
          mediaType: 'text/html',
        })),
      }));
    const ids = Array.from({ length: 4 }, () => randomUUID());
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    let kills = 0;
    const { existsSync, readdirSync } = await import('node:fs');

    /** Runs sync, the process killing itself at a random install step, until one run completes. */
    const crashUntilDone = async (version: number) => {
      for (let i = 0; i < 40; i += 1) {
        const step = 1 + Math.floor(rnd() * 30);
        const run = await runAgent(['sync', '--dir', dir], {
          CLASSCAST_AGENT_TEST_KILL_AT_STEP: String(step),
        });
        if (run.signal === 'SIGKILL') kills += 1;
        // Whatever the crash point: every visible lesson is whole, at the old or the new version.
        expect(await libraryProblems(dir)).toEqual([]);
        for (const l of Object.values((await readIndex(dir)).lessons)) {
          expect([version - 1, version]).toContain(l.version);
        }
        if (run.code === 0) return;
        expect(run.signal).toBe('SIGKILL');
      }
      throw new Error('sync never completed');
    };

    await f.publish(make(1));
    // Kills at random times first (download, decoding), then at random install steps.
    for (let i = 0; i < 3; i += 1) {
      const child = spawnAgent(['sync', '--dir', dir]);
      const timer = setTimeout(() => child.kill('SIGKILL'), 100 + rnd() * 1500);
      await new Promise((r) => child.on('close', r));
      clearTimeout(timer);
      expect(await libraryProblems(dir)).toEqual([]);
    }
    await crashUntilDone(1);
    await f.publish(make(2));
    await crashUntilDone(2);
    expect(kills).toBeGreaterThanOrEqual(2);

    const last = await sync();
    expect(last.code).toBe(0);
    const index = await readIndex(dir);
    expect(Object.keys(index.lessons).sort()).toEqual([...ids].sort());
    expect(Object.values(index.lessons).map((l) => l.version)).toEqual([2, 2, 2, 2]);
    expect(await libraryProblems(dir)).toEqual([]);
    // Nothing half-built is left behind: no staging leftovers, one directory per lesson.
    const staging = join(dir, 'library', '.staging');
    expect(existsSync(staging) ? readdirSync(staging) : []).toEqual([]);
    for (const id of ids) expect(readdirSync(join(dir, 'library', 'lessons', id))).toHaveLength(1);
  });

  it('disk full during a download: a clear error, no corruption, resumes once space is freed', async () => {
    const mount = await mkdtemp(join(tmpdir(), 'classcast-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mount]);
    try {
      const small = join(mount, 'agent');
      await mkdir(small);
      for (const name of ['agent.json', 'token', 'keys.json', 'trust.json']) {
        await writeFile(join(small, name), await readFile(join(dir, name)));
      }
      const { lessonId, video } = await bigLesson(6_000_000);
      // Slow enough that the disk fills while the bundle is still arriving.
      proxy.plan = { rateBytesPerSecond: 3_000_000, bodyPath: BUNDLES };
      const child = runAgent(['sync', '--dir', small, '--attempts', '1']);
      for (let i = 0; i < 400 && proxy.bodyBytes < 1_000_000; i += 1) {
        await new Promise((r) => setTimeout(r, 25));
      }
      await writeFile(join(mount, 'filler'), Buffer.alloc(9 * 1024 * 1024)).catch(() => undefined);
      const run = await child;
      expect(run.code).toBe(6);
      expect(run.stderr).toMatch(/disk full|not enough disk space/);
      expect((await readIndex(small)).lessons).toEqual({});
      const firstServed = bundleBytesServed();
      expect(firstServed).toBeGreaterThan(0);

      await rm(join(mount, 'filler'));
      proxy.plan = {};
      proxy.log = [];
      const again = await runAgent(['sync', '--dir', small, '--retry-base-ms', '20']);
      expect(again.code).toBe(0);
      const resumed = proxy.log.filter((e) => BUNDLES.test(e.path));
      expect(resumed[0].range).toMatch(/^bytes=[1-9]\d*-/);
      const index = await readIndex(small);
      const file = join(
        small,
        'library',
        'lessons',
        lessonId,
        index.lessons[lessonId].dir,
        'lecture.mp4',
      );
      expect(sha256(await readFile(file))).toBe(sha256(video));
      expect(await libraryProblems(small)).toEqual([]);
    } finally {
      execFileSync('umount', ['-l', mount]);
      await rm(mount, { recursive: true, force: true });
    }
  });

  it('server 500s and timeouts: backs off with growing pauses, honours Retry-After, no tight loop, no log flood', async () => {
    await f.publish([
      { lessonId: randomUUID(), version: 1, files: [{ path: 'a.txt', data: Buffer.from('x') }] },
    ]);
    f.failManifest = { count: 3, status: 500, retryAfter: undefined };
    const times: number[] = [];
    const original = f.requests.push.bind(f.requests);
    f.requests.push = (...items) => {
      for (const it of items) if (it.url.endsWith('/sync/manifest')) times.push(Date.now());
      return original(...items);
    };
    const run = await runAgent(['sync', '--dir', dir, '--retry-base-ms', '200', '--attempts', '5']);
    expect(run.code).toBe(0);
    expect(times.length).toBe(4);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // Backoff with jitter: attempt n waits between base*2^(n-1)/2 and base*2^(n-1).
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[2]).toBeGreaterThanOrEqual(390);
    expect(run.stderr.split('\n').filter((l) => l.includes('sync failed')).length).toBe(3);

    // Retry-After wins over the backoff; a server that never recovers ends after --attempts.
    f.failManifest = { count: 100, status: 503, retryAfter: '1' };
    times.length = 0;
    const down = await runAgent(['sync', '--dir', dir, '--retry-base-ms', '10', '--attempts', '3']);
    expect(down.code).toBe(7);
    expect(down.stderr).toMatch(/HTTP 503/);
    expect(times.length).toBe(3);
    expect(times[2] - times[0]).toBeGreaterThanOrEqual(1900);
    expect(down.stderr.split('\n').length).toBeLessThan(20);

    // A server that accepts the connection and never answers: the idle timeout ends the wait.
    f.failManifest.count = 0;
    proxy.plan = { hangNext: 2, failPath: /\/sync\/manifest/ };
    const hung = await runAgent([
      'sync',
      '--dir',
      dir,
      '--retry-base-ms',
      '50',
      '--attempts',
      '4',
      '--idle-timeout-ms',
      '500',
    ]);
    expect(hung.code).toBe(0);
    expect(hung.stderr).toMatch(/timed out/);
  });
});
