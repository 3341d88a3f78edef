import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { REDIS_TEST_URL } from '../../../test/support/pg';
import { Env } from '../../config/env';
import { CachedTerminal, TerminalTokenCache } from './terminal-token-cache';

/**
 * Two caches on one Redis prefix stand for two api processes of a deployment: what one forgets,
 * the other must forget too. Real Redis, own prefix.
 */
describe('TerminalTokenCache', () => {
  const prefix = `classcast_test_tokens_${randomBytes(4).toString('hex')}`;
  const clients: Redis[] = [];
  const caches: TerminalTokenCache[] = [];

  const make = async (seconds: number) => {
    const redis = new Redis(REDIS_TEST_URL, { keyPrefix: `${prefix}:` });
    clients.push(redis);
    const env = { syncTokenCacheSeconds: seconds, redisPrefix: prefix } as Env;
    const cache = new TerminalTokenCache(redis, env);
    await cache.onModuleInit();
    caches.push(cache);
    return cache;
  };

  const entry = (terminalId: string, schoolId: string, readMs = Date.now()): CachedTerminal => ({
    terminalId,
    schoolId,
    lastSeenMs: readMs,
    readMs,
  });

  const until = async (what: string, ok: () => boolean) => {
    for (const end = Date.now() + 10_000; Date.now() < end;) {
      if (ok()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  afterAll(async () => {
    await Promise.all(caches.map((c) => c.onApplicationShutdown()));
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('keeps an entry for its TTL and no longer', async () => {
    const cache = await make(5);
    const now = Date.now();
    cache.set('a', entry('t1', 's1', now));
    expect(cache.get('a', now + 4_999)?.terminalId).toBe('t1');
    expect(cache.get('a', now + 5_000)).toBeUndefined();
    // Expired entries are dropped, not revived by a later clock.
    expect(cache.get('a', now)).toBeUndefined();
  });

  it('remembers nothing when the TTL is 0', async () => {
    const cache = await make(0);
    cache.set('a', entry('t1', 's1'));
    expect(cache.get('a')).toBeUndefined();
  });

  it('forgets a revoked terminal in every process sharing the prefix', async () => {
    const here = await make(60);
    const there = await make(60);
    for (const c of [here, there]) {
      c.set('tok-1', entry('t1', 's1'));
      c.set('tok-2', entry('t2', 's1'));
      c.set('tok-3', entry('t3', 's2'));
    }
    await here.forget({ terminalId: 't1' });
    expect(here.get('tok-1')).toBeUndefined();
    await until('the other process to forget t1', () => there.get('tok-1') === undefined);
    expect(there.get('tok-2')?.terminalId).toBe('t2');

    await there.forget({ schoolId: 's1' });
    await until('both to forget school s1', () =>
      [here, there].every((c) => c.get('tok-2') === undefined),
    );
    expect(here.get('tok-3')?.schoolId).toBe('s2');
    expect(there.get('tok-3')?.schoolId).toBe('s2');
  });

  it('ignores a malformed message on its channel', async () => {
    const cache = await make(60);
    cache.set('tok-9', entry('t9', 's9'));
    const rogue = new Redis(REDIS_TEST_URL);
    clients.push(rogue);
    await rogue.publish(`${prefix}:terminal-tokens:forget`, 'not json');
    await cache.forget({ terminalId: 'someone-else' });
    await new Promise((r) => setTimeout(r, 100));
    expect(cache.get('tok-9')?.terminalId).toBe('t9');
  });
});
