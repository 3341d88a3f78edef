import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CarouselSender, cutFiles, type SenderStats } from '../src/broadcast';
import { bundleLocation, manifestLocation } from '../src/protocol/broadcast';
import { libraryProblems, noise, readIndex, runAgent, spawnAgent } from './support/agent-cli';
import { SyncFixture, sha256 } from './support/sync-fixture';

const MB = 1024 * 1024;

/** Free UDP ports on loopback (bound, read, released). */
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

interface Finished {
  code: number | null;
  stderr: string;
}

/**
 * A term on the carousel over loopback UDP to several receiving agents, each dropping datagrams in
 * user space with its own seeded bursty loss; the signed manifest travels as an object too.
 */
describe('broadcast: a term over the FLUTE carousel to several agents, unicast repair of the rest', () => {
  let f: SyncFixture;
  let work: string;

  beforeAll(async () => {
    f = await SyncFixture.start();
    work = await mkdtemp(join(tmpdir(), 'classcast-broadcast-'));
  });
  afterAll(async () => {
    await f.close();
    await rm(work, { recursive: true, force: true });
  });

  it('every agent installs the same lessons byte for byte; only the one that lost too much repairs; receipts say broadcast', async () => {
    // A term: three lessons, about 14 MB of incompressible "video" and some text.
    const lessons = [0, 1, 2].map((i) => ({
      lessonId: randomUUID(),
      version: 1,
      title: `Lesson ${i}`,
      subject: 'english',
      grades: [3],
      files: [
        {
          path: 'video/lecture.mp4',
          data: noise(4 * MB + i * 700_000, 11 + i),
          mediaType: 'video/mp4',
        },
        {
          path: 'notes.vtt',
          data: Buffer.from(`WEBVTT\n\n${'listen and repeat '.repeat(2000 + i)}`),
        },
      ],
    }));
    await f.publish(lessons);
    const bundle = f.bundles[0];
    expect(bundle.size).toBeGreaterThan(12 * MB);
    expect(bundle.size).toBeLessThan(20 * MB);

    const agents = ['clear-1', 'clear-2', 'late', 'stormy'];
    const dirs: Record<string, string> = {};
    for (const name of agents) {
      dirs[name] = join(work, name);
      const enrolled = await runAgent([
        'enroll',
        '--server',
        f.url,
        '--code',
        f.code,
        '--dir',
        dirs[name],
      ]);
      expect(enrolled.code).toBe(0);
    }
    // The server is unreachable when the carousel starts: the manifest must come by broadcast.
    f.failManifest = { count: agents.length, status: 503, retryAfter: undefined };

    const ports = await freePorts(agents.length);
    const tsi = 7;
    const start = (name: string, port: number, loss: string, seed: number) => {
      const child = spawnAgent([
        'receive',
        '--dir',
        dirs[name],
        '--port',
        String(port),
        '--tsi',
        String(tsi),
        '--timeout',
        '80',
        '--idle',
        '4',
        '--backoff-max-ms',
        '1500',
        '--recv-buffer-mb',
        '4',
        '--simulate-loss',
        loss,
        '--loss-burst',
        '40',
        '--loss-seed',
        String(seed),
      ]);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      return new Promise<Finished>((resolve) =>
        child.on('close', (code) => {
          if (process.env.BROADCAST_TEST_LOGS) {
            void writeFile(join(tmpdir(), `receive-${name}.log`), stderr);
          }
          resolve({ code, stderr });
        }),
      );
    };

    // An object no signed manifest lists, and another school's manifest: both must be ignored.
    const strangerId = randomUUID();
    const stranger = join(work, 'stranger.tar');
    await writeFile(stranger, noise(300_000, 99));
    const objects = await cutFiles([
      {
        contentLocation: manifestLocation(f.schoolId),
        contentType: 'application/json',
        source: { bytes: Buffer.from(JSON.stringify(f.envelope())) },
      },
      {
        contentLocation: manifestLocation(randomUUID()),
        contentType: 'application/json',
        source: { bytes: Buffer.from(JSON.stringify(f.envelope())) },
      },
      {
        contentLocation: bundleLocation(bundle.id),
        contentType: 'application/x-tar',
        source: { path: bundle.path },
        sha256: bundle.sha256,
      },
      {
        contentLocation: bundleLocation(strangerId),
        contentType: 'application/x-tar',
        source: { path: stranger },
      },
    ]);
    const sender = await CarouselSender.prepare({
      tsi,
      objects,
      destinations: ports.map((port) => ({ address: '127.0.0.1', port })),
      rateBitsPerSecond: 20e6,
      cycles: 3,
      expectedLoss: 0.05,
      lossDispersion: 4,
      fec: 'raptorq',
      cacheDir: join(work, 'cache'),
      fdtIntervalMs: 500,
    });
    const done: Promise<Finished>[] = [
      start('clear-1', ports[0], '5', 1),
      start('clear-2', ports[1], '5', 2),
      start('stormy', ports[3], '60', 4),
    ];
    await new Promise((r) => setTimeout(r, 1500));
    let lateStarted = false;
    sender.on('cycle', (c: { cycle: number }) => {
      // Starts after the first cycle (cycles count from 0), in the middle of the second: it
      // completes with what the second and third cycles bring.
      if (c.cycle === 0 && !lateStarted) {
        lateStarted = true;
        done.push(start('late', ports[2], '5', 3));
      }
    });
    const stats: SenderStats = await sender.run();
    await sender.close();
    expect(stats.cycles).toBe(3);
    // At most 20 Mbit/s per destination.
    expect(stats.bitsPerSecond).toBeLessThan(21e6);

    const results = await Promise.all(done);
    const byName = new Map(['clear-1', 'clear-2', 'stormy', 'late'].map((n, i) => [n, results[i]]));
    for (const [name, r] of byName) {
      expect({ name, code: r.code, tail: r.code === 0 ? '' : r.stderr.slice(-3000) }).toEqual({
        name,
        code: 0,
        tail: '',
      });
    }

    // The same lessons, byte for byte, everywhere.
    const expected = Object.fromEntries(
      lessons.map((l) => [
        l.lessonId,
        l.files.map((x) => ({ path: x.path, sha256: sha256(x.data) })),
      ]),
    );
    for (const name of agents) {
      expect(await libraryProblems(dirs[name])).toEqual([]);
      const index = await readIndex(dirs[name]);
      const got = Object.fromEntries(
        Object.values(index.lessons).map((l) => [
          l.lessonId,
          [...l.files]
            .map((x) => ({ path: x.path, sha256: x.sha256 }))
            .sort((a, b) => (a.path < b.path ? 1 : -1)),
        ]),
      );
      expect(got).toEqual(expected);
      const installed = index.lessons[lessons[0].lessonId];
      const video = await readFile(
        join(
          dirs[name],
          'library',
          'lessons',
          installed.lessonId,
          installed.dir,
          'video/lecture.mp4',
        ),
      );
      expect(sha256(video)).toBe(sha256(lessons[0].files[0].data));
    }

    // Repair only where needed: the receivers whose loss the overhead covered fetched nothing.
    const summary = (r: Finished) => {
      const line = r.stderr.split('\n').find((l) => l.includes('library matches the manifest'));
      return JSON.parse(line ?? '{}') as { repairedFiles?: number; bundles?: number };
    };
    expect(summary(byName.get('clear-1')!)).toMatchObject({ repairedFiles: 0, bundles: 1 });
    expect(summary(byName.get('clear-2')!)).toMatchObject({ repairedFiles: 0, bundles: 1 });
    expect(summary(byName.get('late')!)).toMatchObject({ repairedFiles: 0, bundles: 1 });
    const stormy = summary(byName.get('stormy')!);
    expect(stormy.repairedFiles).toBeGreaterThan(0);
    expect(f.requests.filter((r) => r.url.includes('/sync/bundles/'))).toEqual([]);
    const repairs = f.requests.filter((r) => r.url.includes('/sync/files/'));
    expect(repairs.length).toBeGreaterThanOrEqual(stormy.repairedFiles ?? 0);

    // Receipts: via broadcast, with the loss each receiver saw.
    const receipts = f.receipts as {
      bundleId: string;
      via: string;
      state: string;
      loss: { symbolsExpected: number; symbolsReceived: number; objectsRepaired: number };
    }[];
    expect(receipts).toHaveLength(agents.length);
    for (const r of receipts) {
      expect(r).toMatchObject({ bundleId: bundle.id, via: 'broadcast', state: 'installed' });
      expect(r.loss.symbolsExpected).toBeGreaterThan(r.loss.symbolsReceived);
    }
    const worst = receipts.reduce((a, b) =>
      a.loss.objectsRepaired > b.loss.objectsRepaired ? a : b,
    );
    expect(1 - worst.loss.symbolsReceived / worst.loss.symbolsExpected).toBeGreaterThan(0.3);

    // The stranger bundle was decoded before any manifest was known, then ignored: its id appears
    // only in the "ignored" lines and nothing of it was installed (the libraries are exact above).
    const ignored = results.filter((r) =>
      r.stderr
        .split('\n')
        .some((l) => l.includes('does not list this bundle') && l.includes(strangerId)),
    );
    expect(ignored.length).toBeGreaterThan(0);
  }, 300_000);
});
