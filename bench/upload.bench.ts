/**
 * Upload of one big file through the API (multipart and tus) against the anchor: curl sending
 * the same file to a minimal Node streaming sink on the same machine (stream to disk + sha256).
 * Issue figures: throughput ratio >= 0.7 of the anchor, the API's peak RSS under 200 MB.
 *
 *   npx nest build && BENCH_UPLOAD_MB=1024 npm run bench:upload
 *
 * BENCH_UPLOAD_MB (default 1024) sets the file size, BENCH_UPLOAD_RUNS (default 3) the measured
 * runs per method (after one unmeasured warm-up round), BENCH_UPLOAD_METHODS (comma-separated,
 * default all) narrows the methods for a profiling session.
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Api } from './support/api';
import { runBench } from './support/cleanup';
import { curlVersion } from './support/curl';
import { cpuSecondsOf, memoryOf, RssSampler } from './support/rss';
import { writeSampleVideo } from './support/sample-video';
import { startBenchServer } from './support/server';
import { formatTable, median, round, writeReport } from './support/stats';
import {
  startSink,
  uploadMultipart,
  uploadToSink,
  uploadTus,
  type Transfer,
  type UploadContext,
} from './support/upload-clients';

const MB = 1024 * 1024;
const RATIO_ANCHOR = 0.7;
const RSS_ANCHOR_MB = 200;

type Method = 'anchor' | 'anchor+fsync' | 'multipart' | 'tus';
const ALL_METHODS: Method[] = ['anchor', 'multipart', 'tus', 'anchor+fsync'];

function methodsFromEnv(): Method[] {
  const raw = process.env.BENCH_UPLOAD_METHODS;
  if (!raw) return ALL_METHODS;
  const wanted = raw.split(',').map((m) => m.trim());
  const unknown = wanted.filter((m) => !(ALL_METHODS as string[]).includes(m));
  if (unknown.length) throw new Error(`BENCH_UPLOAD_METHODS: unknown ${unknown.join(', ')}`);
  // The anchor is always measured: every ratio is relative to it.
  return ALL_METHODS.filter((m) => m === 'anchor' || wanted.includes(m));
}

interface Run extends Transfer {
  run: number;
  peakRssMb: number;
  rssSamples: number;
  /** CPU seconds (user + system) the receiving process spent on this upload. */
  cpuSeconds: number;
  /** 1-minute load average when the run started: other work on the machine skews the timings. */
  load1: number;
}

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

const timed = (label: string) => {
  const started = process.hrtime.bigint();
  return () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`  ${label}: ${seconds.toFixed(2)} s`);
    return seconds;
  };
};
/** Blob path of the fs driver: `<DATA_DIR>/blobs/ab/cd/<sha256>`. */
const blobPath = (ctx: UploadContext) =>
  join(
    ctx.server.dataDir,
    'blobs',
    ctx.file.sha256.slice(0, 2),
    ctx.file.sha256.slice(2, 4),
    ctx.file.sha256,
  );

/**
 * Every API run gets a fresh lesson, and the previous run's blob is removed from the store, so
 * the commit (fsync + rename) runs each time instead of the dedupe short-circuit that identical
 * bytes would otherwise take from the second run on.
 */
async function freshLesson(ctx: UploadContext, run: number, method: Method): Promise<string> {
  await unlink(blobPath(ctx)).catch(() => undefined);
  const lesson = await ctx.api.call<{ id: string }>('POST', '/lessons', {
    token: ctx.bureauToken,
    body: {
      title: `上传基准 ${method} #${run}`,
      subject: 'music',
      grades: [3],
      language: 'zh-CN',
      description: 'upload benchmark',
    },
  });
  return lesson.id;
}
async function measure(ctx: UploadContext, method: Method, run: number): Promise<Run> {
  const lessonId =
    method === 'multipart' || method === 'tus' ? await freshLesson(ctx, run, method) : '';
  // Every run starts with no dirty pages of the previous one still waiting for the disk.
  spawnSync('sync');
  const pid = method.startsWith('anchor') ? ctx.sink.pid : ctx.server.pid;
  const load1 = loadavg()[0];
  const cpuBefore = cpuSecondsOf(pid);
  const sampler = new RssSampler(pid);
  sampler.start();
  try {
    let result: Transfer;
    switch (method) {
      case 'anchor':
      case 'anchor+fsync':
        result = await uploadToSink(ctx, method === 'anchor+fsync');
        break;
      case 'multipart':
        result = await uploadMultipart(ctx, lessonId);
        break;
      case 'tus':
        result = await uploadTus(ctx, lessonId);
        break;
    }
    const { peakMb, samples } = sampler.stop();
    const cpuSeconds = cpuSecondsOf(pid) - cpuBefore;
    return { run, ...result, peakRssMb: peakMb, rssSamples: samples, cpuSeconds, load1 };
  } finally {
    sampler.stop();
  }
}

runBench('upload bench', async (cleanup) => {
  const sizeMb = intEnv('BENCH_UPLOAD_MB', 1024);
  const runs = intEnv('BENCH_UPLOAD_RUNS', 3);
  const bytes = sizeMb * MB;
  const workDir = await mkdtemp(join(tmpdir(), 'classcast-bench-upload-'));
  cleanup.add(`remove ${workDir}`, () => rm(workDir, { recursive: true, force: true }));

  console.log(`upload bench: ${sizeMb} MB, ${runs} run(s) per method, work dir ${workDir}`);
  const filePath = join(workDir, 'lesson-bench.mp4');
  let done = timed(`write ${sizeMb} MB sample video`);
  const sha256 = await writeSampleVideo(filePath, bytes);
  const writeSeconds = done();
  done = timed('sync it to disk');
  spawnSync('sync');
  const syncSeconds = done();

  done = timed('start server (migrations included)');
  const server = await startBenchServer(cleanup, {
    name: 'upload',
    workDir,
    extraEnv: {
      BUREAU_QUOTA_MB: String(1024 * 1024),
      UPLOAD_MAX_FILE_MB: String(Math.max(8192, sizeMb * 2)),
    },
  });
  done();
  const api = new Api(server.baseUrl);
  const adminToken = await api.login(server.admin.email, server.admin.password);
  const bureau = await api.createBureauUser(adminToken);
  const sink = await startSink(cleanup, join(workDir, 'sink'));
  const ctx: UploadContext = {
    server,
    api,
    bureauToken: bureau.token,
    sink,
    file: { path: filePath, bytes, sha256 },
    workDir,
  };
  const baseline = memoryOf(server.pid);
  console.log(`  server pid ${server.pid}, baseline RSS ${baseline.rssMb.toFixed(1)} MB`);

  const METHODS = methodsFromEnv();
  console.log('  warm-up round (not measured)');
  for (const method of METHODS) await measure(ctx, method, 0);

  const results = new Map<Method, Run[]>(METHODS.map((m) => [m, []]));
  for (let run = 1; run <= runs; run++) {
    // Rotating the order spreads whatever the disk is still doing across all methods.
    const order = METHODS.map((_, i) => METHODS[(i + run - 1) % METHODS.length]);
    for (const method of order) {
      const r = await measure(ctx, method, run);
      results.get(method)?.push(r);
      const parts = r.parts
        ? ` (create ${r.parts.createSeconds.toFixed(3)} s + PATCH ${r.parts.patchSeconds.toFixed(2)} s)`
        : '';
      console.log(
        `  run ${run} ${method.padEnd(12)} ${r.seconds.toFixed(2)} s  ${(sizeMb / r.seconds).toFixed(0)} MB/s` +
          `  peak RSS ${r.peakRssMb.toFixed(1)} MB  CPU ${r.cpuSeconds.toFixed(2)} s  load ${r.load1.toFixed(2)}${parts}`,
      );
    }
  }
  const finalMemory = memoryOf(server.pid);

  const anchorMbps = sizeMb / median(results.get('anchor')?.map((r) => r.seconds) ?? []);
  const rows = METHODS.map((method) => {
    const list = results.get(method) ?? [];
    const seconds = median(list.map((r) => r.seconds));
    const mbps = sizeMb / seconds;
    const ratio = mbps / anchorMbps;
    const peakRssMb = Math.max(...list.map((r) => r.peakRssMb));
    const ours = method === 'multipart' || method === 'tus';
    const pass = ours ? ratio >= RATIO_ANCHOR && peakRssMb < RSS_ANCHOR_MB : null;
    return {
      method,
      medianSeconds: round(seconds, 2),
      mbPerSecond: round(mbps, 1),
      ratioVsAnchor: round(ratio, 2),
      peakRssMb: round(peakRssMb, 1),
      medianCpuSeconds: round(median(list.map((r) => r.cpuSeconds)), 2),
      rssOf: ours ? 'api' : 'sink',
      pass,
      ratioPass: ours ? ratio >= RATIO_ANCHOR : null,
      rssPass: ours ? peakRssMb < RSS_ANCHOR_MB : null,
      runs: list.map((r) => ({
        ...r,
        seconds: round(r.seconds, 3),
        peakRssMb: round(r.peakRssMb, 1),
      })),
    };
  });

  console.log(
    `\nUpload of ${sizeMb} MB, median of ${runs} (anchor: curl -T to a Node sink that writes + sha256s)\n`,
  );
  console.log(
    formatTable(
      [
        'method',
        'seconds',
        'MB/s',
        'ratio',
        'peak RSS MB',
        'CPU s',
        `vs anchors (ratio >= ${RATIO_ANCHOR}, RSS < ${RSS_ANCHOR_MB} MB)`,
      ],
      rows.map((r) => [
        r.method,
        r.medianSeconds.toFixed(2),
        r.mbPerSecond.toFixed(1),
        r.ratioVsAnchor.toFixed(2),
        `${r.peakRssMb.toFixed(1)} (${r.rssOf})`,
        r.medianCpuSeconds.toFixed(2),
        r.pass === null
          ? r.method === 'anchor'
            ? 'anchor'
            : 'info: anchor + fsync before answering'
          : `${r.pass ? 'PASS' : 'FAIL'} (ratio ${r.ratioPass ? 'ok' : 'low'}, RSS ${r.rssPass ? 'ok' : 'high'})`,
      ]),
    ),
  );
  console.log(
    `\nAPI server RSS: baseline ${baseline.rssMb.toFixed(1)} MB, VmHWM at the end ${finalMemory.hwmMb.toFixed(1)} MB ` +
      `(high-water mark since start, startup included)`,
  );
  console.log(
    `Disk: the sample file was written at ${(sizeMb / writeSeconds).toFixed(0)} MB/s into the page cache ` +
      `and flushed by sync in ${syncSeconds.toFixed(2)} s (${(sizeMb / Math.max(syncSeconds, 0.001)).toFixed(0)} MB/s).`,
  );

  const path = await writeReport('upload', {
    bench: 'upload',
    at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryMb: Math.round(totalmem() / MB),
      node: process.version,
      curl: await curlVersion(),
    },
    sizeMb,
    runsPerMethod: runs,
    anchors: { ratio: RATIO_ANCHOR, peakRssMb: RSS_ANCHOR_MB },
    sampleFile: { writeSeconds: round(writeSeconds, 2), syncSeconds: round(syncSeconds, 2) },
    server: { baselineRssMb: round(baseline.rssMb, 1), vmHwmAtEndMb: round(finalMemory.hwmMb, 1) },
    methods: rows,
    notes: [
      'anchor: curl -T (PUT, raw body) to a child-process Node http server that pipes the body through sha256 into a file',
      'multipart: curl -F to POST /api/v1/lessons/:id/files; tus: curl POST /api/v1/uploads then one PATCH (curl -T) with every byte; tus seconds = creation + PATCH',
      'anchor+fsync: the same sink, fsyncing the file before answering (the blob store fsyncs before the rename that makes a blob visible); informational',
      'every API run uses a fresh lesson, and the bench deletes the previous blob from DATA_DIR/blobs so the commit path is measured each time (identical bytes would otherwise dedupe)',
      'CPU s = user + system CPU seconds of the receiving process (sink or API server) during the upload, median; less sensitive than wall time to other load on the machine',
      'one unmeasured warm-up round first; sync(1) runs before every measured upload; peak RSS = max VmRSS sampled every 50 ms during the upload, max over runs',
    ],
  });
  console.log(`\nreport: ${path}`);
});
