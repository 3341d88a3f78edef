import { ValueTransformer } from 'typeorm';

/** bigint columns come back from pg as strings; byte counts are plain JSON integers in the API. */
export const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/**
 * TypeORM's postgres driver answers UPDATE/DELETE ... RETURNING with [rows, affected] but
 * INSERT/SELECT with rows: this gives the rows either way.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  ) {
    return result[0] as T[];
  }
  return result as T[];
}
