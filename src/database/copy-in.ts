import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { EntityManager } from 'typeorm';

/**
 * COPY ... FROM STDIN on the connection of the caller's transaction, fed from `chunks` as they
 * are made (so a big batch is never held whole). Returns the number of rows PostgreSQL stored.
 */
export async function copyIn(
  em: EntityManager,
  sql: string,
  chunks: Iterable<string | Buffer>,
): Promise<number> {
  if (!em.queryRunner?.isTransactionActive) throw new Error('copyIn runs inside a transaction');
  const client = (await em.queryRunner.connect()) as PoolClient;
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from(chunks, { objectMode: false }), stream);
  return Number(stream.rowCount);
}

/** A value in COPY's text format: `\N` for null, backslash escapes for the special characters. */
export function copyText(value: string | number | null): string {
  if (value === null) return '\\N';
  if (typeof value === 'number') return String(value);
  return /[\\\n\r\t]/.test(value)
    ? value.replace(/[\\\n\r\t]/g, (c) =>
        c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
      )
    : value;
}
