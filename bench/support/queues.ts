import Redis from 'ioredis';
import { redisUrl } from './redis';
import { sleep } from './server';

export interface QueueBacklog {
  seconds: number;
  /** Jobs waiting, active or delayed per queue when the wait began, and when it ended. */
  atStart: Record<string, number>;
  left: Record<string, number>;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/**
 * Waits until no BullMQ queue of the bench server has work (waiting, active, prioritized or
 * delayed jobs), so the next figure does not share the worker with the tail of the previous one:
 * need-change folds, packaging plans and renditions that an import or a matching set off.
 * Delayed jobs of `maintenance` are its repeating schedulers and never go away, so they don't count.
 */
export async function waitForIdleQueues(
  redisPrefix: string,
  timeoutMs: number,
): Promise<QueueBacklog> {
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  try {
    const queues = async () => {
      const names = new Set<string>();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(
          cursor,
          'MATCH',
          `${redisPrefix}:*:meta`,
          'COUNT',
          1000,
        );
        cursor = next;
        for (const key of keys) names.add(key.split(':')[1]);
      } while (cursor !== '0');
      return [...names].sort();
    };
    const counts = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const queue of await queues()) {
        const key = (suffix: string) => `${redisPrefix}:${queue}:${suffix}`;
        const [wait, active, paused, prioritized, delayed] = await Promise.all([
          redis.llen(key('wait')),
          redis.llen(key('active')),
          redis.llen(key('paused')),
          redis.zcard(key('prioritized')),
          queue === 'maintenance' ? Promise.resolve(0) : redis.zcard(key('delayed')),
        ]);
        out[queue] = wait + active + paused + prioritized + delayed;
      }
      return out;
    };
    const started = Date.now();
    const atStart = await counts();
    let left = atStart;
    while (total(left) > 0 && Date.now() - started < timeoutMs) {
      await sleep(1000);
      left = await counts();
    }
    return { seconds: (Date.now() - started) / 1000, atStart, left };
  } finally {
    redis.disconnect();
  }
}

export const describeBacklog = (b: QueueBacklog): string =>
  `${total(b.atStart)} queued jobs (${Object.entries(b.atStart)
    .filter(([, n]) => n > 0)
    .map(([q, n]) => `${q} ${n}`)
    .join(', ')}) settled in ${b.seconds.toFixed(1)} s, ${total(b.left)} left`;
