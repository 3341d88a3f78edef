import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { REDIS } from '../../common/redis/redis.module';
import { AppError } from '../../common/errors/app-error';
import { ENV, Env } from '../../config/env';

/** Counts failed logins per (client address, e-mail) in a fixed window held in Redis. */
@Injectable()
export class LoginLimiter {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(ENV) private readonly env: Env,
  ) {}

  private key(ip: string, email: string): string {
    const digest = createHash('sha256').update(`${ip}\n${email.toLowerCase()}`).digest('hex');
    return `ratelimit:login:${digest.slice(0, 32)}`;
  }

  async assertAllowed(ip: string, email: string): Promise<void> {
    const key = this.key(ip, email);
    const [count, ttl] = await Promise.all([this.redis.get(key), this.redis.ttl(key)]);
    if (Number(count ?? 0) >= this.env.loginMaxFailures) {
      const retryAfter = String(Math.max(1, ttl));
      throw new AppError(
        'rate_limited',
        `Too many failed logins; try again in ${retryAfter} seconds`,
        [],
        { 'Retry-After': retryAfter },
      );
    }
  }

  async recordFailure(ip: string, email: string): Promise<void> {
    const key = this.key(ip, email);
    const count = await this.redis.incr(key);
    if (count === 1) await this.redis.expire(key, this.env.loginWindowSeconds);
  }

  async reset(ip: string, email: string): Promise<void> {
    await this.redis.del(this.key(ip, email));
  }
}
