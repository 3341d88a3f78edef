/**
 * Satellite bytes to deliver one term to N = 1, 100 and 10,000 simulated schools: the broadcast
 * carousel (the real FLUTE sender's channel bytes per cycle, RaptorQ repair for 5 % expected
 * loss, IP/UDP/LCT headers included, BROADCAST_CYCLES cycles, plus the expected unicast repair)
 * against unicast (N x the bundle), side by side, with the planner's decision for each N.
 *
 *   npx nest build && npm run bench:broadcast-bytes    # "node dist/bench/broadcast-bytes.bench.js"
 *
 * BENCH_TERM_MB (default 20) sets the term size; BENCH_CYCLES (2) the carousel cycles.
 */
import { randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CarouselSender, cutFiles } from '../src/broadcast';
import { decide, overheadForLoss } from '../src/modules/broadcast/planning/cost';
import { runBench } from './support/cleanup';

const MB = 1024 * 1024;

async function writeTerm(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  const chunk = Buffer.alloc(MB);
  for (let left = bytes; left > 0; left -= MB) {
    randomFillSync(chunk);
    if (!out.write(left >= MB ? chunk : chunk.subarray(0, left))) {
      await new Promise<void>((r) => out.once('drain', () => r()));
    }
  }
  await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())));
}

runBench('broadcast-bytes', async (cleanup) => {
  const termBytes = Number(process.env.BENCH_TERM_MB ?? 20) * MB;
  const cycles = Number(process.env.BENCH_CYCLES ?? 2);
  const loss = 0.05;
  const repairFraction = 0.01;
  const work = await mkdtemp(join(tmpdir(), 'classcast-bench-broadcast-'));
  cleanup.add('temp dir', () => rm(work, { recursive: true, force: true }));
  const term = join(work, 'term.tar');
  await writeTerm(term, termBytes);

  const overhead = overheadForLoss(loss);
  const started = performance.now();
  const sender = await CarouselSender.prepare({
    tsi: 1,
    objects: await cutFiles([
      { contentLocation: 'classcast:bundle/term.tar', source: { path: term } },
    ]),
    destinations: [{ address: '127.0.0.1', port: 9 }],
    rateBitsPerSecond: 20e6,
    cycles,
    repairOverhead: overhead,
    fec: 'raptorq',
    cacheDir: join(work, 'cache'),
  });
  const prepareSeconds = (performance.now() - started) / 1000;
  const cycleBytes = sender.cycleChannelBytes();
  await sender.close();

  const rows = [1, 100, 10_000].map((n) => {
    const broadcast = Math.ceil(cycles * cycleBytes + n * termBytes * repairFraction);
    const unicast = n * termBytes;
    const d = decide({
      bytes: termBytes,
      schools: n,
      overhead,
      cycles,
      repairFraction,
      minSchools: 2,
    });
    return { n, broadcast, unicast, ratio: broadcast / unicast, decision: d.via, reason: d.reason };
  });
  const gb = (b: number) => (b / 1e9).toFixed(3);
  console.log(
    `term ${(termBytes / MB).toFixed(1)} MiB, ${cycles} cycles, repair overhead ${(overhead * 100).toFixed(1)} % for ${loss * 100} % loss`,
  );
  console.log(
    `one cycle on the channel: ${(cycleBytes / MB).toFixed(2)} MiB (${(cycleBytes / termBytes).toFixed(3)} x the term); prepare ${prepareSeconds.toFixed(1)} s`,
  );
  console.log('schools     broadcast GB    unicast GB   broadcast/unicast   planner');
  for (const r of rows) {
    console.log(
      `${String(r.n).padStart(7)} ${gb(r.broadcast).padStart(14)} ${gb(r.unicast).padStart(13)} ${r.ratio.toFixed(4).padStart(19)}   ${r.decision} (${r.reason})`,
    );
  }
  await writeFile(
    join(__dirname, '..', '..', 'bench', 'report', 'broadcast-bytes.json'),
    JSON.stringify({ termBytes, cycles, overhead, cycleBytes, prepareSeconds, rows }, null, 2),
  ).catch(() => undefined);
});
