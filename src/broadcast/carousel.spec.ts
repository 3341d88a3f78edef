/**
 * Sender and receivers over loopback UDP (receive buffers of 4 MiB, loss drawn in user space
 * from seeded models), and replays of a captured carousel for the cases that need exact timing:
 * a receiver that starts mid-carousel, one that restarts, forged and corrupted datagrams.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Capture,
  expectedBytes,
  makeTerm,
  startReceiver,
  tempDir,
  type TestReceiver,
} from './carousel.fixture';
import { loadRaptorq } from './fec/raptorq';
import { FecWorkerPool } from './fec/worker-pool';
import { BernoulliLoss, GilbertElliottLoss, type LossModel } from './loss-model';
import { burstDispersion, cutFiles, type BroadcastFile, type CarouselObject } from './objects';
import { FluteReceiver } from './receiver';
import { CarouselSender, sendCarousel, type SenderOptions } from './sender';

const TSI = 0x00c1a55c;
let dir: string;
let cleanup: () => Promise<void>;
let files: BroadcastFile[];
let objects: CarouselObject[];
let expected: Map<string, Buffer>;
let pool: FecWorkerPool;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('carousel'));
  files = await makeTerm(dir);
  objects = await cutFiles(files);
  expected = await expectedBytes(files);
  pool = new FecWorkerPool(2);
});

afterAll(async () => {
  await pool.close();
  await cleanup();
});

function baseOptions(ports: number[], extra: Partial<SenderOptions> = {}): SenderOptions {
  return {
    tsi: TSI,
    objects,
    destinations: ports.map((port) => ({ address: '127.0.0.1', port })),
    rateBitsPerSecond: 40e6,
    cycles: 1,
    expectedLoss: 0.05,
    fdtIntervalMs: 250,
    cacheDir: join(dir, 'cache'),
    pool,
    ...extra,
  };
}

async function expectAllFiles(r: TestReceiver): Promise<void> {
  expect([...r.files.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [location, file] of r.files) {
    expect((await readFile(file.path)).equals(expected.get(location)!)).toBe(true);
  }
}

/** waitUntilComplete, saying what is missing when it is not. */
async function completes(r: FluteReceiver, timeoutMs = 15_000): Promise<boolean> {
  const ok = await r.waitUntilComplete(timeoutMs);
  if (!ok) console.error('incomplete', r.stats(), JSON.stringify(r.missing()));
  return ok;
}

let receiverCount = 0;
function receiverOptions(lossModel?: LossModel): {
  tsi: number;
  stateDir: string;
  lossModel?: LossModel;
  pool: FecWorkerPool;
} {
  return { tsi: TSI, stateDir: join(dir, `receiver-${++receiverCount}`), lossModel, pool };
}

describe('carousel over loopback UDP', () => {
  it.each([
    [0.01, 11],
    [0.05, 12],
    [0.2, 13],
  ])(
    'with %p independent loss and overhead matched to it, every object decodes in one cycle',
    async (loss, seed) => {
      const receivers = [
        await startReceiver(receiverOptions(new BernoulliLoss(loss, seed))),
        await startReceiver(receiverOptions(new BernoulliLoss(loss, seed + 100))),
      ];
      try {
        expect(receivers[0].receiver.recvBufferSize()).toBeGreaterThanOrEqual(4 * 1024 * 1024);
        const stats = await sendCarousel(
          baseOptions(
            receivers.map((r) => r.port),
            // Matched with a margin: the loss a receiver sees on a small object varies around the mean.
            // 20 Mbit/s: the channel rate, which a loaded CI machine's receivers keep up with.
            { expectedLoss: loss * 1.5, rateBitsPerSecond: 20e6 },
          ),
        );
        expect(stats.cycles).toBe(1);
        for (const r of receivers) {
          expect(await completes(r.receiver)).toBe(true);
          await expectAllFiles(r);
          const s = r.receiver.stats();
          expect(s.lossRate).toBeGreaterThan(loss * 0.5);
          expect(s.lossRate).toBeLessThan(loss * 1.6 + 0.01);
          expect(s.fecDecodes).toBeGreaterThan(0);
          expect(s.corruptObjects).toBe(0);
          expect(r.receiver.missing()).toEqual([]);
        }
      } finally {
        for (const r of receivers) await r.receiver.close();
      }
    },
  );

  it('with Gilbert-Elliott fades (5 % mean, bursts of ~200 datagrams) and overhead widened for them, every object decodes', async () => {
    const r = await startReceiver(receiverOptions(GilbertElliottLoss.withMeanLoss(0.05, 200, 21)));
    try {
      await sendCarousel(
        baseOptions([r.port], {
          expectedLoss: 0.05,
          lossDispersion: burstDispersion(200, 8),
          cycles: 2,
        }),
      );
      expect(await completes(r.receiver)).toBe(true);
      await expectAllFiles(r);
      expect(r.receiver.stats().lossRate).toBeGreaterThan(0.01);
    } finally {
      await r.receiver.close();
    }
  });

  it('with more loss than planned, reports exactly what is missing (for unicast repair)', async () => {
    const r = await startReceiver(receiverOptions(new BernoulliLoss(0.35, 31)));
    try {
      await sendCarousel(baseOptions([r.port], { expectedLoss: 0.01 }));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(r.receiver.isComplete()).toBe(false);
      const missing = r.receiver.missing();
      expect(missing.length).toBeGreaterThan(0);
      for (const m of missing) {
        expect(expected.has(m.contentLocation)).toBe(true);
        expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
        for (const o of m.objects) expect(o.symbols).toBeLessThan(o.sourceSymbols);
      }
      // What did arrive is whole and correct; what is missing was not half-delivered.
      for (const [location, f] of r.files) {
        expect(missing.some((m) => m.contentLocation === location)).toBe(false);
        expect((await readFile(f.path)).equals(expected.get(location)!)).toBe(true);
      }
      expect(r.receiver.stats().lossRate).toBeGreaterThan(0.25);
    } finally {
      await r.receiver.close();
    }
  });

  it('falls back to Compact No-Code (FEC Encoding ID 0): repeated cycles fill the holes', async () => {
    const r = await startReceiver(receiverOptions(new BernoulliLoss(0.03, 41)));
    try {
      const stats = await sendCarousel(
        baseOptions([r.port], { fec: 'compact-no-code', cycles: 4 }),
      );
      expect(stats.objects.every((o) => o.repairPerCycle === 0 && o.oti.fecEncodingId === 0)).toBe(
        true,
      );
      expect(await completes(r.receiver)).toBe(true);
      await expectAllFiles(r);
      expect(r.receiver.stats().fecDecodes).toBe(0);
    } finally {
      await r.receiver.close();
    }
  });

  it('sends to a multicast group on 127.0.0.1', async () => {
    const group = '239.255.42.99';
    const r = await startReceiver({
      ...receiverOptions(),
      address: '0.0.0.0',
      group,
      groupInterface: '127.0.0.1',
    });
    try {
      await sendCarousel({
        ...baseOptions([r.port]),
        destinations: [{ address: group, port: r.port }],
        multicastInterface: '127.0.0.1',
        multicastTtl: 1,
      });
      expect(await completes(r.receiver)).toBe(true);
      await expectAllFiles(r);
    } finally {
      await r.receiver.close();
    }
  });

  it('computes repair symbols once: a second carousel of the same objects reads them from the cache', async () => {
    const options = baseOptions([9], { expectedLoss: 0.07, cacheDir: join(dir, 'cache-reuse') });
    const first = await CarouselSender.prepare(options);
    const second = await CarouselSender.prepare(options);
    expect(first.objects.every((o) => o.encoded)).toBe(true);
    expect(second.objects.every((o) => !o.encoded)).toBe(true);
    expect(second.objects.map((o) => o.md5)).toEqual(first.objects.map((o) => o.md5));
    expect(second.fdt.files).toEqual(first.fdt.files);
  });

  it('paces at the channel rate', async () => {
    const capture = await Capture.start();
    try {
      const stats = await sendCarousel(baseOptions([capture.port], { rateBitsPerSecond: 30e6 }));
      // Loose bounds: the machine is shared; pacing must never exceed the rate by much.
      expect(stats.bitsPerSecond).toBeLessThan(30e6 * 1.1);
      expect(stats.bitsPerSecond).toBeGreaterThan(30e6 * 0.25);
    } finally {
      await capture.close();
    }
  });
});

describe('replayed carousel', () => {
  let datagrams: Buffer[];
  let cycleEnds: number[];

  beforeAll(async () => {
    const capture = await Capture.start();
    try {
      const sender = await CarouselSender.prepare(
        baseOptions([capture.port], { cycles: 2, rateBitsPerSecond: 30e6 }),
      );
      let sent = 0;
      cycleEnds = [];
      sender.on('cycle', (c: { packets: number }) => cycleEnds.push((sent += c.packets)));
      const stats = await sender.run();
      await capture.settle();
      datagrams = capture.datagrams;
      // Loopback may drop a few under load; index cycles by the sequence number in CCI instead.
      expect(datagrams.length).toBeGreaterThan(stats.packets * 0.99);
      cycleEnds = cycleEnds.map((end) => datagrams.findIndex((d) => d.readUInt32BE(4) >= end));
      cycleEnds[cycleEnds.length - 1] = datagrams.length;
    } finally {
      await capture.close();
    }
  });

  async function idle(r: FluteReceiver): Promise<void> {
    for (let i = 0; i < 300 && r.objectProgress().some((o) => o.state === 'decoding'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function replay(r: FluteReceiver, from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) {
      r.ingest(datagrams[i]);
      if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async function receiver(
    stateDir?: string,
  ): Promise<{ receiver: FluteReceiver; files: Map<string, string> }> {
    const receiver = await FluteReceiver.start(
      {
        ...receiverOptions(),
        stateDir: stateDir ?? join(dir, `replay-${++receiverCount}`),
        port: 0,
      },
      false,
    );
    const got = new Map<string, string>();
    receiver.on('file', (f: { contentLocation: string; path: string }) =>
      got.set(f.contentLocation, f.path),
    );
    return { receiver, files: got };
  }

  it("sends a 4 MiB object's first repair symbol as ESI K (the library's ISI K' remapped)", async () => {
    const lecture = objects.find((o) => o.contentLocation.endsWith('part-1-of-2'))!;
    const firstRepair = datagrams.find(
      (d) => d.readUInt32BE(12) === lecture.toi && d.readUInt32BE(16) >= 2996,
    )!;
    // LCT (16 bytes, no extensions) + payload ID: SBN 0, ESI 2996 = K, not 3015 = K'.
    expect(firstRepair.subarray(16, 20)).toEqual(Buffer.from([0, 0, 0x0b, 0xb4]));
    const data = (await readFile((lecture.source as { path: string }).path)).subarray(
      0,
      4 * 1024 * 1024,
    );
    const lib = loadRaptorq();
    const enc = lib.Encoder.with_defaults(data, 1400);
    const packets = enc.encode(1);
    enc.free();
    expect(Buffer.from(packets[2996].subarray(0, 4))).toEqual(Buffer.from([0, 0, 0x0b, 0xc7])); // ISI 3015
    expect(firstRepair.subarray(20).equals(Buffer.from(packets[2996].subarray(4)))).toBe(true);
  });

  it('a receiver that starts mid-carousel completes in the next cycle', async () => {
    const { receiver: r, files: got } = await receiver();
    try {
      const middle = Math.floor(cycleEnds[0] / 2);
      await replay(r, middle, cycleEnds[0] + Math.floor((cycleEnds[1] - cycleEnds[0]) * 0.9));
      expect(await completes(r)).toBe(true);
      for (const [location, path] of got)
        expect((await readFile(path)).equals(expected.get(location)!)).toBe(true);
      expect(got.size).toBe(expected.size);
    } finally {
      await r.close();
    }
  });

  it('a receiver that stops and restarts keeps its symbols and completes without starting over', async () => {
    const stateDir = join(dir, 'restart-state');
    const first = await receiver(stateDir);
    await replay(first.receiver, 0, Math.floor(cycleEnds[0] * 0.6));
    const before = first.receiver.objectProgress();
    await first.receiver.close();
    expect(first.receiver.isComplete()).toBe(false);

    const second = await receiver(stateDir);
    const restored = second.receiver.objectProgress();
    const summary = (list: typeof before): unknown[] =>
      list.map((o) => [
        o.toi,
        o.state === 'done' || o.state === 'decoding' ? 'decoded' : o.symbols,
      ]);
    expect(summary(restored)).toEqual(summary(before));
    expect(restored.some((o) => o.state === 'collecting' && o.symbols > 0)).toBe(true);
    const tail = cycleEnds[0] + Math.floor((cycleEnds[1] - cycleEnds[0]) * 0.55);
    // The last 45 % of the second cycle alone cannot complete the term ...
    const control = await receiver();
    await replay(control.receiver, tail, cycleEnds[1]);
    expect(await control.receiver.waitUntilComplete(2_000)).toBe(false);
    await control.receiver.close();
    // ... but with what the receiver kept from before its restart, it does.
    await replay(second.receiver, tail, cycleEnds[1]);
    expect(await completes(second.receiver)).toBe(true);
    for (const [location, path] of second.files) {
      expect((await readFile(path)).equals(expected.get(location)!)).toBe(true);
    }
    await second.receiver.close();

    // A third start re-announces the completed files instead of receiving them again.
    const third = await receiver(stateDir);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(third.files.size).toBe(expected.size);
    expect(third.receiver.isComplete()).toBe(true);
    await third.receiver.close();
  });

  it('ignores forged and corrupted datagrams, other sessions and unknown objects', async () => {
    const { receiver: r, files: got } = await receiver();
    try {
      const random = (n: number): Buffer =>
        Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + n) & 0xff));
      const corruptedToi = objects.find((o) => o.contentLocation.includes('slides'))!.toi;
      for (let i = 0; i < cycleEnds[1]; i++) {
        // In the air the next cycle comes seconds later: let the first cycle's decodes finish.
        if (i === cycleEnds[0]) await idle(r);
        const d = datagrams[i];
        if (i % 97 === 0) r.ingest(random(30 + (i % 1500))); // garbage
        if (i % 50 === 0) {
          const other = Buffer.from(d);
          other.writeUInt32BE(TSI + 1, 8); // another session
          r.ingest(other);
          const unknown = Buffer.from(d);
          if (unknown.readUInt32BE(12) !== 0) {
            unknown.writeUInt32BE(999, 12); // an object no FDT lists
            r.ingest(unknown);
          }
        }
        if (i < cycleEnds[0] / 2 && d.readUInt32BE(12) === corruptedToi && i % 7 === 0) {
          const bad = Buffer.from(d);
          bad[bad.length - 10] ^= 0xff; // a damaged symbol with intact headers
          r.ingest(bad);
          continue;
        }
        r.ingest(d);
        if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await completes(r)).toBe(true);
      for (const [location, path] of got)
        expect((await readFile(path)).equals(expected.get(location)!)).toBe(true);
      expect(got.size).toBe(expected.size);
      const s = r.stats();
      expect(s.malformed).toBeGreaterThan(0);
      expect(s.wrongSession).toBeGreaterThan(0);
      expect(s.unknownObject).toBeGreaterThan(0);
      expect(s.corruptObjects).toBeGreaterThanOrEqual(1);
    } finally {
      await r.close();
    }
  });

  it('refuses objects the caller does not accept (nothing emitted for them)', async () => {
    const r = await FluteReceiver.start(
      {
        ...receiverOptions(),
        port: 0,
        acceptObject: (f) => !f.contentLocation.includes('slides'),
      },
      false,
    );
    const got = new Set<string>();
    r.on('file', (f: { contentLocation: string }) => got.add(f.contentLocation));
    try {
      await replay(r, 0, cycleEnds[1]);
      expect(await completes(r)).toBe(true);
      expect([...got].sort()).toEqual(
        [...expected.keys()].filter((l) => !l.includes('slides')).sort(),
      );
      expect(r.stats().refusedObject).toBeGreaterThan(0);
    } finally {
      await r.close();
    }
  });
});
