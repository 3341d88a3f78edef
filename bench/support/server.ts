import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Cleanup } from './cleanup';
import { createBenchDatabase } from './database';
import { redisUrl, removeRedisKeysOnCleanup } from './redis';
import { repoRoot } from './paths';

export interface BenchServer {
  baseUrl: string;
  pid: number;
  databaseUrl: string;
  dataDir: string;
  /** BullMQ keys of this server live under `<redisPrefix>:<queue>:...`. */
  redisPrefix: string;
  admin: { email: string; password: string };
  logPath: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Last resort when the bench process exits without its cleanup (it only sees signals it can
 * catch): the child must not outlive it.
 */
export function killOnExit(child: ChildProcess): void {
  process.once('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
}

/** SIGTERM, then SIGKILL when the child has not gone within `graceMs`. Only ever our own child. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts the built server (`dist/src/main.js`) against its own database, Redis prefix and data
 * directory, all removed by the cleanup, and resolves once /health/ready answers 200.
 */
export async function startBenchServer(
  cleanup: Cleanup,
  options: { name: string; workDir: string; extraEnv?: Record<string, string> },
): Promise<BenchServer> {
  const tag = `${options.name}_${process.pid}`;
  const databaseUrl = await createBenchDatabase(cleanup, `classcast_bench_${tag}`);
  const redisPrefix = `classcast_bench_${tag}_${randomBytes(3).toString('hex')}`;
  removeRedisKeysOnCleanup(cleanup, redisPrefix);
  const dataDir = join(options.workDir, 'data');
  await mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const admin = { email: 'bench-admin@classcast.test', password: randomBytes(12).toString('hex') };
  const logPath = join(options.workDir, 'server.log');
  const log = createWriteStream(logPath);

  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'src', 'main.js')], {
    cwd: repoRoot(),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      ROLE: 'all',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl(),
      REDIS_PREFIX: redisPrefix,
      DATA_DIR: dataDir,
      STORAGE_DRIVER: 'fs',
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      JWT_SECRET: randomBytes(32).toString('hex'),
      // For profiling runs, e.g. BENCH_SERVER_NODE_OPTIONS=--perf-basic-prof with `perf record`.
      ...(process.env.BENCH_SERVER_NODE_OPTIONS
        ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS }
        : {}),
      ...options.extraEnv,
    },
  });
  killOnExit(child);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  // Registered after the database and Redis steps, so it runs before them: stop writers first.
  cleanup.add('stop server', async () => {
    await stopChild(child);
    log.end();
  });
  if (child.pid === undefined) throw new Error('the server did not start');

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      const tail = (await readFile(logPath, 'utf8').catch(() => '')).slice(-3000);
      throw new Error(`the server exited with code ${child.exitCode} during startup:\n${tail}`);
    }
    const ready = await fetch(`${baseUrl}/health/ready`).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline)
      throw new Error(`the server was not ready within 90 s (log: ${logPath})`);
    await sleep(250);
  }
  return { baseUrl, pid: child.pid, databaseUrl, dataDir, redisPrefix, admin, logPath };
}
