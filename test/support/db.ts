import { DataSource } from 'typeorm';
import { TestApp } from './test-app';

/** Counts rows straight from the test's database: bad input must leave nothing behind. */
export async function countRows(
  t: TestApp,
  table: 'blob' | 'lesson_file' | 'lesson' | 'upload' | 'course',
): Promise<number> {
  const ds = t.app.get(DataSource);
  const [row] = await ds.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`);
  return row.n;
}
