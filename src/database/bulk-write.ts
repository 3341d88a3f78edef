import { DataSource } from 'typeorm';

/**
 * A bulk write in progress (gap matching writing millions of assignments) holds this advisory
 * lock, shared, on a connection of its own for as long as it runs. Background work that would
 * only compete with it for the same cores and disk (the coverage rollup) sees it in pg_locks and
 * waits its turn. The lock goes with the connection, so a crashed writer never leaves it behind.
 */
export const BULK_WRITE_LOCK = 7_740_062;

/** Holds the bulk-write marker until the returned function is called. */
export async function holdBulkWrite(ds: DataSource): Promise<() => Promise<void>> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(`SELECT pg_advisory_lock_shared($1)`, [BULK_WRITE_LOCK]);
  } catch (err) {
    await runner.release();
    throw err;
  }
  return async () => {
    try {
      await runner.query(`SELECT pg_advisory_unlock_shared($1)`, [BULK_WRITE_LOCK]);
    } finally {
      await runner.release();
    }
  };
}

/** Whether some session of this database holds the bulk-write marker now. */
export async function bulkWriteRunning(ds: DataSource): Promise<boolean> {
  const [{ running }] = await ds.query<{ running: boolean }[]>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()
          AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1) AS running`,
    [BULK_WRITE_LOCK],
  );
  return running;
}
