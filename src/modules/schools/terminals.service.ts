import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { returnedRows } from '../../database/columns';
import { AppError } from '../../common/errors/app-error';
import { Page, all } from '../../common/http/pagination';
import { REDIS } from '../../common/redis/redis.module';
import { ENV, Env } from '../../config/env';
import { Principal } from '../auth/principal';
import { PublishedKey, SigningService } from '../signing/signing.service';
import { hashSecret, newEnrollmentCode, normaliseEnrollmentCode } from './enrollment-code';
import { EnrollmentCode, Terminal } from './school.entities';
import { EnrollDto, TerminalView } from './schools.dto';
import { SchoolsService } from './schools.service';
import { TerminalTokenCache } from './terminal-token-cache';

export interface TerminalPrincipal {
  kind: 'terminal';
  terminalId: string;
  schoolId: string;
}

const toTerminalView = (t: Terminal): TerminalView => ({
  id: t.id,
  schoolId: t.schoolId,
  name: t.name,
  agentVersion: t.agentVersion,
  lastSeenAt: t.lastSeenAt ? t.lastSeenAt.toISOString() : null,
  freeBytes: t.freeBytes,
  revokedAt: t.revokedAt ? t.revokedAt.toISOString() : null,
  createdAt: t.createdAt.toISOString(),
});

/** Seen-at writes are rate limited: thousands of terminals poll, the column needs no more. */
const SEEN_RESOLUTION_MS = 60_000;

/**
 * Terminal enrollment and terminal tokens. Tokens are 256 random bits stored only as SHA-256 and
 * found by index, so checking one costs a primary-key lookup, not a password hash.
 */
@Injectable()
export class TerminalsService {
  private readonly logger = new Logger(TerminalsService.name);

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly schools: SchoolsService,
    private readonly signing: SigningService,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(ENV) private readonly env: Env,
    private readonly tokens: TerminalTokenCache,
  ) {}

  async createCode(p: Principal, schoolId: string): Promise<{ code: string; expiresAt: string }> {
    await this.schools.visible(p, schoolId);
    const code = newEnrollmentCode();
    const expiresAt = new Date(Date.now() + this.env.enrollCodeTtlHours * 3600_000);
    await this.ds.getRepository(EnrollmentCode).insert({
      schoolId,
      codeHash: hashSecret(normaliseEnrollmentCode(code) as string),
      expiresAt,
      createdBy: p.id,
    });
    return { code, expiresAt: expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z') };
  }

  async enroll(
    dto: EnrollDto,
    ip: string,
  ): Promise<{ terminalId: string; token: string; schoolId: string; signingKeys: PublishedKey[] }> {
    await this.assertNotGuessing(ip);
    const canonical = normaliseEnrollmentCode(dto.code);
    if (!canonical) {
      await this.recordFailure(ip);
      throw new AppError(
        'validation_failed',
        'An enrollment code has 8 characters, like K3QX-7P2M',
        [{ field: 'code', message: 'not an enrollment code' }],
      );
    }
    const token = `cct_${randomBytes(32).toString('base64url')}`;
    const terminal = await this.ds.transaction(async (em) => {
      // Single use: the code is consumed in the same statement that checks it.
      const rows = returnedRows<{ school_id: string }>(
        await em.query(
          `UPDATE enrollment_code SET used_at = now()
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING school_id`,
          [hashSecret(canonical)],
        ),
      );
      if (rows.length === 0) return null;
      return em.save(
        Terminal,
        em.create(Terminal, {
          schoolId: rows[0].school_id,
          name: dto.name,
          agentVersion: dto.agentVersion,
          tokenHash: hashSecret(token),
          lastSeenAt: new Date(),
        }),
      );
    });
    if (!terminal) {
      await this.recordFailure(ip);
      throw new AppError(
        'enrollment_refused',
        'This enrollment code is unknown, already used or expired; ask the bureau for a new one',
      );
    }
    this.logger.log({ terminalId: terminal.id, schoolId: terminal.schoolId }, 'terminal enrolled');
    return {
      terminalId: terminal.id,
      token,
      schoolId: terminal.schoolId,
      signingKeys: await this.signing.publishedKeys(),
    };
  }

  async list(p: Principal, schoolId: string): Promise<Page<TerminalView>> {
    await this.schools.visible(p, schoolId);
    const rows = await this.ds.getRepository(Terminal).find({
      where: { schoolId },
      order: { createdAt: 'ASC' },
    });
    return all(rows.map(toTerminalView));
  }

  async revoke(p: Principal, terminalId: string): Promise<void> {
    const terminal = await this.ds.getRepository(Terminal).findOneBy({ id: terminalId });
    if (!terminal) throw AppError.notFound('Terminal');
    await this.schools.visible(p, terminal.schoolId).catch(() => {
      throw AppError.notFound('Terminal');
    });
    if (!terminal.revokedAt) {
      await this.ds.getRepository(Terminal).update({ id: terminalId }, { revokedAt: new Date() });
    }
    await this.tokens.forget({ terminalId });
  }

  /**
   * The terminal behind a token, or null. Valid tokens are remembered for
   * SYNC_TOKEN_CACHE_SECONDS (TerminalTokenCache); revoking forgets them at once.
   */
  async authenticate(token: string): Promise<TerminalPrincipal | null> {
    const hash = createHash('sha256').update(token).digest();
    const hashHex = hash.toString('hex');
    const now = Date.now();
    let entry = this.tokens.get(hashHex, now);
    if (!entry) {
      // Plain SQL: this runs on every poll of thousands of terminals.
      const [terminal] = await this.ds.query<
        { id: string; school_id: string; revoked_at: Date | null; last_seen_at: Date | null }[]
      >(`SELECT id, school_id, revoked_at, last_seen_at FROM terminal WHERE token_hash = $1`, [
        hash,
      ]);
      if (!terminal || terminal.revoked_at) return null;
      entry = {
        terminalId: terminal.id,
        schoolId: terminal.school_id,
        lastSeenMs: terminal.last_seen_at?.getTime() ?? 0,
        readMs: now,
      };
      this.tokens.set(hashHex, entry);
    }
    if (now - entry.lastSeenMs > SEEN_RESOLUTION_MS) {
      entry.lastSeenMs = now;
      await this.ds.query(`UPDATE terminal SET last_seen_at = now() WHERE id = $1`, [
        entry.terminalId,
      ]);
    }
    return { kind: 'terminal', terminalId: entry.terminalId, schoolId: entry.schoolId };
  }

  private key(ip: string): string {
    return `ratelimit:enroll:${createHash('sha256').update(ip).digest('hex').slice(0, 32)}`;
  }

  private async assertNotGuessing(ip: string): Promise<void> {
    const key = this.key(ip);
    const [count, ttl] = await Promise.all([this.redis.get(key), this.redis.ttl(key)]);
    if (Number(count ?? 0) >= this.env.enrollMaxFailures) {
      const retryAfter = String(Math.max(1, ttl));
      throw new AppError(
        'rate_limited',
        `Too many wrong enrollment codes from this address; try again in ${retryAfter} seconds`,
        [],
        { 'Retry-After': retryAfter },
      );
    }
  }

  private async recordFailure(ip: string): Promise<void> {
    const key = this.key(ip);
    const count = await this.redis.incr(key);
    if (count === 1) await this.redis.expire(key, this.env.enrollWindowSeconds);
  }
}
