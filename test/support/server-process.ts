import Redis from 'ioredis';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIS_TEST_URL, TEST_DB_PREFIX, databaseUrl, withAdmin } from './pg';

const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with how the process ended: its exit code, or the signal that ended it. */
  kill: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: string | null }>;
}

/** The built server as a separate process, for tests that kill it mid-work. */
export async function startServerProcess(
  env: Record<string, string>,
  port: number,
): Promise<ServerProcess> {
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${out}`);
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    url,
    output: () => out,
    kill: (signal: NodeJS.Signals = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          return resolve({ code: child.exitCode, signal: child.signalCode });
        }
        child.once('exit', (code, sig) => resolve({ code, signal: sig }));
        child.kill(signal);
      }),
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A database cloned from the test template, a Redis prefix and a DATA_DIR for servers run as
 * separate processes; `cleanup` removes all three.
 */
export async function processEnvironment(
  name: string,
  extra: Record<string, string> = {},
): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }> {
  const work = await mkdtemp(join(tmpdir(), `classcast-${name}-`));
  const template = process.env.CLASSCAST_TEST_TEMPLATE as string;
  const dbName = `${TEST_DB_PREFIX}_${template.slice(`${TEST_DB_PREFIX}_tpl_`.length)}_${name}`;
  const redisPrefix = `cctest_${name}_${process.pid}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${dbName} TEMPLATE ${template}`));
  const env = {
    DATABASE_URL: databaseUrl(dbName),
    REDIS_URL: REDIS_TEST_URL,
    REDIS_PREFIX: redisPrefix,
    DATA_DIR: join(work, 'data'),
    ADMIN_EMAIL: `admin@${name}.test`,
    ADMIN_PASSWORD: `${name}-password-1`,
    JWT_SECRET: randomBytes(32).toString('hex'),
    NODE_ENV: 'production',
    ...extra,
  };
  return {
    env,
    cleanup: async () => {
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
      const redis = new Redis(REDIS_TEST_URL);
      const keys = await redis.keys(`${redisPrefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
      await rm(work, { recursive: true, force: true });
    },
  };
}
