import { TEST_DB_PREFIX, withAdmin } from './pg';

/** Drops the template and any clone a crashed spec left behind, all named after this run. */
export default async function globalTeardown(): Promise<void> {
  const template = process.env.CLASSCAST_TEST_TEMPLATE;
  if (!template) return;
  const runId = template.slice(`${TEST_DB_PREFIX}_tpl_`.length);
  await withAdmin(async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`,
      [template, `${TEST_DB_PREFIX}_${runId}_%`],
    );
    for (const { datname } of rows) {
      await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
  });
}
