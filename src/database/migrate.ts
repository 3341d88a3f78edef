import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadEnv } from '../config/env';
import { dataSourceOptions } from './data-source';

/** `npm run migration:run` / `migration:revert` against DATABASE_URL. */
async function main(): Promise<void> {
  const command = process.argv[2];
  const url = process.env.DATABASE_URL ?? loadEnv().databaseUrl;
  const ds = await new DataSource(dataSourceOptions(url)).initialize();
  try {
    if (command === 'run') {
      const ran = await ds.runMigrations({ transaction: 'each' });
      console.log(ran.length ? `applied: ${ran.map((m) => m.name).join(', ')}` : 'up to date');
    } else if (command === 'revert') {
      await ds.undoLastMigration({ transaction: 'each' });
      console.log('reverted the last migration');
    } else {
      console.error('usage: migrate run|revert');
      process.exitCode = 2;
    }
  } finally {
    await ds.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
