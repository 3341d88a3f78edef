/**
 * The school agent across an emulated satellite link, against the link's own capacity:
 * a user-space proxy (test/support/fault-proxy.ts) adds 300 ms each way to every request and
 * answer, caps body bytes at 8 Mbit/s shared by all connections, resets a connection every
 * 20 MB on average (seeded, exponential gaps) and takes the link down for 3 s every 60 s of
 * transfer. The agent (dist/src/agent/main.js, a separate process) enrolls and syncs one bundle
 * through it. Goodput = bundle bytes / (cap x time the link was up); target >= 0.8. Side by side:
 * the same transfer by curl (one connection, `--retry -C -`) through the same link and faults.
 *
 *   npx nest build && npm run bench:agent-link      # "node dist/bench/agent-link.bench.js"
 *
 * BENCH_AGENT_MB (default 100) sets the payload; BENCH_AGENT_CONNECTIONS (default 4) the
 * agent's parallel ranges; BENCH_SEED the fault schedule.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultProxy, seededRandom, type FaultPlan } from '../test/support/fault-proxy';
import { SyncFixture } from '../test/support/sync-fixture';
import { runBench } from './support/cleanup';
import { formatTable, round, writeReport } from './support/stats';

const MB = 1_000_000;
const CAP_BYTES_PER_SECOND = 8_000_000 / 8;
const ONE_WAY_MS = 300;
const RESET_EVERY = 20 * MB;
const STALL_MS = 3000;
const STALL_EVERY_BYTES = 60 * CAP_BYTES_PER_SECOND;

const AGENT = join(__dirname, '..', 'src', 'agent', 'main.js');

interface Run {
  tool: string;
  seconds: number;
  linkUpSeconds: number;
  payloadBytes: number;
  bytesOverLink: number;
  resets: number;
  stallSeconds: number;
  requests: number;
  goodput: number;
}

/** The fault schedule, by body bytes through the proxy: resets (exponential gaps) and stalls. */
function faults(size: number, seed: number): FaultPlan {
  const rnd = seededRandom(seed);
  const cuts: number[] = [];
  // Scheduled over twice the payload: re-fetched bytes also cross the link.
  for (
    let at = -Math.log(1 - rnd()) * RESET_EVERY;
    at < size * 2;
    at += -Math.log(1 - rnd()) * RESET_EVERY
  ) {
    cuts.push(Math.floor(at));
  }
  const stalls: { at: number; ms: number }[] = [];
  for (let at = STALL_EVERY_BYTES; at < size * 2; at += STALL_EVERY_BYTES)
    stalls.push({ at, ms: STALL_MS });
  return {
    latencyMs: ONE_WAY_MS,
    rateBytesPerSecond: CAP_BYTES_PER_SECOND,
    cuts,
    stalls,
    bodyPath: /\/sync\/bundles\//,
  };
}

function exec(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

function summarise(tool: string, proxy: FaultProxy, size: number, ms: number): Run {
  const seconds = ms / 1000;
  const linkUpSeconds = seconds - proxy.stallMs / 1000;
  const bundleLog = proxy.log.filter((e) => /\/sync\/bundles\//.test(e.path));
  return {
    tool,
    seconds: round(seconds, 1),
    linkUpSeconds: round(linkUpSeconds, 1),
    payloadBytes: size,
    bytesOverLink: bundleLog.reduce((a, e) => a + e.bytes, 0),
    resets: proxy.cutsDone,
    stallSeconds: proxy.stallMs / 1000,
    requests: bundleLog.length,
    goodput: round(size / (CAP_BYTES_PER_SECOND * linkUpSeconds), 3),
  };
}

runBench('agent-link', async (cleanup) => {
  const payloadMb = Number(process.env.BENCH_AGENT_MB ?? 100);
  const connections = Number(process.env.BENCH_AGENT_CONNECTIONS ?? 4);
  const seed = Number(process.env.BENCH_SEED ?? 2026);
  const work = await mkdtemp(join(tmpdir(), 'classcast-bench-link-'));
  cleanup.add('work dir', () => rm(work, { recursive: true, force: true }));
  const fixture = await SyncFixture.start();
  cleanup.add('sync server', () => fixture.close());
  const { randomBytes } = await import('node:crypto');
  // Media bytes (incompressible), as lecture video is: the bundle stores them as they are.
  const chunks: Buffer[] = [];
  for (let left = payloadMb * MB; left > 0; left -= 4 * MB)
    chunks.push(randomBytes(Math.min(left, 4 * MB)));
  await fixture.publish([
    {
      lessonId: randomUUID(),
      version: 1,
      files: [{ path: 'lecture.mp4', data: Buffer.concat(chunks), mediaType: 'video/mp4' }],
    },
  ]);
  chunks.length = 0;
  const bundle = fixture.bundles[0];
  console.log(
    `payload: one bundle of ${round(bundle.size / MB, 1)} MB; link: ${ONE_WAY_MS} ms each way, 8 Mbit/s, reset every 20 MB on average, 3 s stall every 60 s (seed ${seed})`,
  );
  console.log(
    `machine: ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );

  const runs: Run[] = [];

  // The agent: enroll through the link, then one sync (retries inside).
  {
    const proxy = await FaultProxy.start(fixture.url);
    cleanup.add('agent proxy', () => proxy.close());
    const dir = join(work, 'agent');
    const enroll = await exec(process.execPath, [
      AGENT,
      'enroll',
      '--server',
      proxy.url,
      '--code',
      fixture.code,
      '--dir',
      dir,
    ]);
    if (enroll.code !== 0) throw new Error(`enroll failed: ${enroll.stderr}`);
    proxy.plan = faults(bundle.size, seed);
    proxy.log = [];
    const started = Date.now();
    const sync = await exec(process.execPath, [
      AGENT,
      'sync',
      '--dir',
      dir,
      '--connections',
      String(connections),
      '--retry-base-ms',
      '1000',
      '--attempts',
      '10',
    ]);
    const ms = Date.now() - started;
    if (sync.code !== 0) throw new Error(`sync failed (${sync.code}): ${sync.stderr}`);
    runs.push(
      summarise(`classcast-agent sync --connections ${connections}`, proxy, bundle.size, ms),
    );
  }

  // Anchor: curl, one connection, resuming with -C - after each reset.
  {
    const proxy = await FaultProxy.start(fixture.url);
    cleanup.add('curl proxy', () => proxy.close());
    proxy.plan = faults(bundle.size, seed);
    const out = join(work, 'curl.tar');
    const started = Date.now();
    const curl = await exec('curl', [
      '-sS',
      '--fail',
      '-o',
      out,
      '-C',
      '-',
      '--retry',
      '100',
      '--retry-all-errors',
      '--retry-delay',
      '1',
      '-H',
      `Authorization: Bearer ${fixture.token}`,
      `${proxy.url}/api/v1/sync/bundles/${bundle.id}`,
    ]);
    const ms = Date.now() - started;
    if (curl.code !== 0 || (await stat(out)).size !== bundle.size)
      throw new Error(`curl failed: ${curl.stderr}`);
    runs.push(summarise('curl -C - --retry (anchor)', proxy, bundle.size, ms));
  }

  console.log(
    formatTable(
      [
        'client',
        'seconds',
        'link up s',
        'resets',
        'stall s',
        'requests',
        'bytes over link',
        'goodput',
      ],
      runs.map((r) => [
        r.tool,
        r.seconds,
        r.linkUpSeconds,
        r.resets,
        r.stallSeconds,
        r.requests,
        r.bytesOverLink,
        r.goodput,
      ]),
    ),
  );
  const [agent, curl] = runs;
  console.log(
    `goodput ${agent.goodput} (target >= 0.8); agent vs curl: ${round(agent.goodput / curl.goodput, 2)}x`,
  );
  const path = await writeReport('agent-link', {
    payloadMb,
    connections,
    seed,
    capBytesPerSecond: CAP_BYTES_PER_SECOND,
    oneWayMs: ONE_WAY_MS,
    runs,
  });
  console.log(`report: ${path}`);
});
