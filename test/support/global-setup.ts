import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source';
import { runMigrations } from '../../src/database/database.module';
import { TEST_DB_PREFIX, databaseUrl, withAdmin } from './pg';

/** Migrates one template database; every spec file clones it (CREATE DATABASE ... TEMPLATE). */
export default async function globalSetup(): Promise<void> {
  const template = `${TEST_DB_PREFIX}_tpl_${process.pid}`;
  await withAdmin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${template}`);
    await c.query(`CREATE DATABASE ${template}`);
  });
  const ds = await new DataSource(dataSourceOptions(databaseUrl(template))).initialize();
  try {
    await runMigrations(ds);
  } finally {
    await ds.destroy();
  }
  process.env.CLASSCAST_TEST_TEMPLATE = template;
}
