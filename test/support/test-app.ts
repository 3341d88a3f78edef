import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { AppModule } from '../../src/app/app.module';
import { configureHttp } from '../../src/app/http';
import { Env, loadEnv } from '../../src/config/env';
import { REDIS_TEST_URL, TEST_DB_PREFIX, databaseUrl, withAdmin } from './pg';

export const ADMIN = { email: 'admin@classcast.test', password: 'admin-password-1' };

export interface TestApp {
  app: NestExpressApplication;
  env: Env;
  url: string;
  dbName: string;
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
}

/**
 * A whole Classcast (api and worker in one process) on its own database cloned from the migrated
 * template, its own Redis prefix and its own DATA_DIR, listening on a loopback port.
 */
export async function startTestApp(overrides: Record<string, string> = {}): Promise<TestApp> {
  const template = process.env.CLASSCAST_TEST_TEMPLATE;
  if (!template) throw new Error('run e2e specs through jest (globalSetup makes the template)');
  const runId = template.slice(`${TEST_DB_PREFIX}_tpl_`.length);
  const suffix = `${process.env.JEST_WORKER_ID ?? '0'}_${randomBytes(4).toString('hex')}`;
  const dbName = `${TEST_DB_PREFIX}_${runId}_${suffix}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${dbName} TEMPLATE ${template}`));
  const dataDir = await mkdtemp(join(tmpdir(), 'classcast-test-'));
  const redisPrefix = `cctest_${runId}_${suffix}`;
  const env = loadEnv({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    ROLE: 'all',
    DATABASE_URL: databaseUrl(dbName),
    REDIS_URL: REDIS_TEST_URL,
    REDIS_PREFIX: redisPrefix,
    DATA_DIR: dataDir,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: process.env.TEST_LOGS ? 'error' : 'silent',
    ...overrides,
  });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRole(env), {
    bodyParser: false,
    logger: process.env.TEST_LOGS ? ['error', 'warn'] : false,
  });
  configureHttp(app, env);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    env,
    url,
    dbName,
    http: () => request(url),
    close: async () => {
      await app.close();
      await cleanRedis(redisPrefix);
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function cleanRedis(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_TEST_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
