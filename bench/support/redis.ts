import Redis from 'ioredis';
import type { Cleanup } from './cleanup';

export const redisUrl = (): string => process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Registers removal of every key under `prefix` (queues, rate limits, caches of the bench server). */
export function removeRedisKeysOnCleanup(cleanup: Cleanup, prefix: string): void {
  cleanup.add(`delete redis keys ${prefix}*`, async () => {
    const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redis.connect();
    try {
      let cursor = '0';
      let removed = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) removed += await redis.unlink(...keys);
      } while (cursor !== '0');
      if (removed > 0) console.error(`cleanup: removed ${removed} redis key(s) under ${prefix}`);
    } finally {
      redis.disconnect();
    }
  });
}
