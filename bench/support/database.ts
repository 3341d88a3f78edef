import { Client } from 'pg';
import type { Cleanup } from './cleanup';

/** The maintenance connection used to create and drop bench databases. */
export const adminDatabaseUrl = (): string =>
  process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdminClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminDatabaseUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database that the cleanup drops again (forcibly: the server may linger). */
export async function createBenchDatabase(cleanup: Cleanup, name: string): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unsafe database name ${name}`);
  await withAdminClient((c) => c.query(`CREATE DATABASE ${name}`));
  cleanup.add(`drop database ${name}`, async () => {
    await withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });
  return databaseUrl(name);
}

export async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}
