import { BernoulliLoss, GilbertElliottLoss, seededRandom } from './loss-model';
import { burstDispersion, cutFiles, repairSymbolsFor } from './objects';
import { TokenBucket } from './pacer';

describe('loss models', () => {
  it('are reproducible from their seed', () => {
    const a = new BernoulliLoss(0.1, 5);
    const b = new BernoulliLoss(0.1, 5);
    const c = new BernoulliLoss(0.1, 6);
    const run = (m: BernoulliLoss): boolean[] => Array.from({ length: 1000 }, () => m.drop());
    const ra = run(a);
    expect(run(b)).toEqual(ra);
    expect(run(c)).not.toEqual(ra);
    expect(seededRandom(1)()).toBe(seededRandom(1)());
  });

  it('Bernoulli loses about p of the datagrams, independently', () => {
    const m = new BernoulliLoss(0.05, 1);
    let lost = 0;
    for (let i = 0; i < 200_000; i++) if (m.drop()) lost++;
    expect(lost / 200_000).toBeGreaterThan(0.045);
    expect(lost / 200_000).toBeLessThan(0.055);
  });

  it('Gilbert-Elliott loses its mean rate in bursts of the requested length', () => {
    const m = GilbertElliottLoss.withMeanLoss(0.05, 500, 3);
    expect(m.meanLoss).toBeCloseTo(0.05, 6);
    let lost = 0;
    let bursts = 0;
    let previous = false;
    const n = 2_000_000;
    for (let i = 0; i < n; i++) {
      const d = m.drop();
      if (d) lost++;
      if (d && !previous) bursts++;
      previous = d;
    }
    expect(lost / n).toBeGreaterThan(0.035);
    expect(lost / n).toBeLessThan(0.065);
    const meanBurst = lost / bursts;
    expect(meanBurst).toBeGreaterThan(350);
    expect(meanBurst).toBeLessThan(650);
  });

  it('refuses impossible parameters', () => {
    expect(() => new BernoulliLoss(1, 1)).toThrow(RangeError);
    expect(() => GilbertElliottLoss.withMeanLoss(0, 10, 1)).toThrow(RangeError);
  });
});

describe('repair overhead', () => {
  it('grows with the expected loss and is about 7-8 % for a 4 MiB object at 5 %', () => {
    const k = 2996;
    const r1 = repairSymbolsFor(k, 0.01);
    const r5 = repairSymbolsFor(k, 0.05);
    const r20 = repairSymbolsFor(k, 0.2);
    expect(r1).toBeLessThan(r5);
    expect(r5).toBeLessThan(r20);
    expect(r5 / k).toBeGreaterThan(0.06);
    expect(r5 / k).toBeLessThan(0.09);
    // Enough on average: (K + R)(1 - p) >= K + 2.
    for (const [r, p] of [
      [r1, 0.01],
      [r5, 0.05],
      [r20, 0.2],
    ]) {
      expect((k + r) * (1 - p)).toBeGreaterThanOrEqual(k + 2);
    }
    expect(repairSymbolsFor(k, 0.05, { dispersion: burstDispersion(200, 8) })).toBeGreaterThan(r5);
    expect(() => repairSymbolsFor(k, 0.95)).toThrow(RangeError);
  });
});

describe('cutting files into objects', () => {
  it('keeps small files whole and cuts large ones into 4 MiB parts with consecutive TOIs', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 5, 1);
    const objects = await cutFiles(
      [
        { contentLocation: 'a', source: { bytes: Buffer.from('hello') } },
        { contentLocation: 'b', source: { bytes: big } },
      ],
      { firstToi: 10 },
    );
    expect(
      objects.map((o) => [
        o.toi,
        o.contentLocation,
        'bytes' in o.source ? o.source.bytes.length : -1,
      ]),
    ).toEqual([
      [10, 'a', 5],
      [11, 'b.part-1-of-3', 4 * 1024 * 1024],
      [12, 'b.part-2-of-3', 4 * 1024 * 1024],
      [13, 'b.part-3-of-3', 1024 * 1024 + 5],
    ]);
    expect(objects[3].part).toMatchObject({
      fileLocation: 'b',
      index: 2,
      count: 3,
      offset: 8 * 1024 * 1024,
    });
    await expect(
      cutFiles([{ contentLocation: 'e', source: { bytes: Buffer.alloc(0) } }]),
    ).rejects.toThrow(/empty/);
    await expect(
      cutFiles([
        { contentLocation: 'x', source: { bytes: Buffer.from('1') } },
        { contentLocation: 'x', source: { bytes: Buffer.from('2') } },
      ]),
    ).rejects.toThrow(/twice/);
  });
});

describe('token bucket', () => {
  it('lets through the rate over time and no more', () => {
    let now = 0;
    const bucket = new TokenBucket(8_000_000, 10_000, () => now); // 1,000 bytes per ms
    expect(bucket.tryTake(1000)).toBe(false);
    now = 1;
    expect(bucket.tryTake(1000)).toBe(true);
    expect(bucket.tryTake(1)).toBe(false);
    expect(bucket.delayFor(500)).toBeCloseTo(0.5, 5);
    now = 1000; // a long pause fills only up to the burst size
    let sent = 0;
    while (bucket.tryTake(1000)) sent += 1000;
    expect(sent).toBe(10_000);
  });
});
