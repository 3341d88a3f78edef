import { Logger } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ENV, Env } from '../config/env';
import { dataSourceOptions } from './data-source';

/** Any constant works; every replica agrees on it so only one migrates at a time. */
const MIGRATION_LOCK = 4_206_001;

export async function runMigrations(ds: DataSource): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const ran = await ds.runMigrations({ transaction: 'each' });
    return ran.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}

export const DatabaseModule = TypeOrmModule.forRootAsync({
  inject: [ENV],
  useFactory: (env: Env) => ({
    ...dataSourceOptions(env.databaseUrl),
    migrateOnBoot: env.migrateOnBoot,
  }),
  dataSourceFactory: async (options) => {
    if (!options) throw new Error('no data source options');
    const ds = await new DataSource(options).initialize();
    if ((options as { migrateOnBoot?: boolean }).migrateOnBoot !== false) {
      const ran = await runMigrations(ds);
      if (ran.length) new Logger('Database').log({ migrations: ran }, 'applied migrations');
    }
    return ds;
  },
});
