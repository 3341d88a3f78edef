import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { REDIS } from '../../common/redis/redis.module';
import { ENV, Env } from '../../config/env';

export interface CachedTerminal {
  terminalId: string;
  schoolId: string;
  /** When the terminal was last recorded as seen (ms since the epoch), or 0. */
  lastSeenMs: number;
  /** When this entry was read from PostgreSQL (ms since the epoch). */
  readMs: number;
}

/** Enough for every terminal of 64,000 schools with a few each; the oldest entries go first. */
const MAX_ENTRIES = 250_000;

type Forget = { terminalId: string } | { schoolId: string };

/**
 * Valid terminal tokens (by SHA-256) for SYNC_TOKEN_CACHE_SECONDS, so a manifest poll that finds
 * its precomputed manifest in memory does not also need PostgreSQL. Revoking a terminal or
 * deleting a school forgets its tokens here at once and, through a Redis channel, in every other
 * process of the deployment within a round trip; should that message be lost, an entry still lives
 * no longer than the TTL. Unknown and revoked tokens are never cached.
 */
@Injectable()
export class TerminalTokenCache implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(TerminalTokenCache.name);
  private readonly entries = new Map<string, CachedTerminal>();
  private readonly ttlMs: number;
  private readonly channel: string;
  private subscriber?: Redis;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(ENV) env: Env,
  ) {
    this.ttlMs = env.syncTokenCacheSeconds * 1000;
    this.channel = `${env.redisPrefix}:terminal-tokens:forget`;
  }

  async onModuleInit(): Promise<void> {
    if (this.ttlMs === 0) return;
    this.subscriber = this.redis.duplicate({ keyPrefix: undefined });
    this.subscriber.on('message', (_channel: string, message: string) => {
      try {
        this.forgetHere(JSON.parse(message) as Forget);
      } catch {
        this.logger.warn({ channel: this.channel }, 'ignored a malformed token-forget message');
      }
    });
    // Errors are retried by ioredis; the TTL bounds what a missed message can cost.
    this.subscriber.on('error', () => undefined);
    await this.subscriber.subscribe(this.channel).catch((err: Error) => {
      this.logger.warn(
        { err: err.message },
        'not told when other processes revoke terminals until Redis answers; tokens expire with SYNC_TOKEN_CACHE_SECONDS',
      );
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  get(hashHex: string, now = Date.now()): CachedTerminal | undefined {
    const entry = this.entries.get(hashHex);
    if (!entry) return undefined;
    if (now - entry.readMs >= this.ttlMs) {
      this.entries.delete(hashHex);
      return undefined;
    }
    return entry;
  }

  set(hashHex: string, entry: CachedTerminal): void {
    if (this.ttlMs === 0) return;
    this.entries.delete(hashHex);
    this.entries.set(hashHex, entry);
    if (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** Forgets the tokens of a terminal or of a whole school, here and in every other process. */
  async forget(what: Forget): Promise<void> {
    this.forgetHere(what);
    if (this.ttlMs === 0) return;
    await this.redis.publish(this.channel, JSON.stringify(what)).catch((err: Error) => {
      this.logger.warn(
        { err: err.message },
        'could not tell other processes to forget a token; it expires with SYNC_TOKEN_CACHE_SECONDS',
      );
    });
  }

  private forgetHere(what: Forget): void {
    for (const [hash, entry] of this.entries) {
      if (
        ('terminalId' in what && entry.terminalId === what.terminalId) ||
        ('schoolId' in what && entry.schoolId === what.schoolId)
      ) {
        this.entries.delete(hash);
      }
    }
  }
}
