import { ValueTransformer } from 'typeorm';

/** bigint columns come back from pg as strings; byte counts are plain JSON integers in the API. */
export const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
