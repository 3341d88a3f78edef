import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ENV, Env } from '../../config/env';
import {
  generateKeyPair,
  keyIdFor,
  keyPairFromSeed,
  minisignPublicKey,
  openSeed,
  sealSeed,
  signBytes,
} from './ed25519';
import { SigningKey } from './signing-key.entity';

export interface PublishedKey {
  keyId: string;
  algorithm: 'ed25519';
  publicKey: string;
  minisign: string;
  signedBy?: string;
  signature?: string;
}

/** Any constant: replicas booting together take turns creating the first key. */
const KEY_LOCK = 4_206_002;

/**
 * The Ed25519 key that signs manifests. It lives in PostgreSQL (private part sealed with
 * SIGNING_KEY_SECRET) or comes from SIGNING_PRIVATE_KEY, so every replica signs with the same key.
 */
@Injectable()
export class SigningService implements OnApplicationBootstrap {
  private readonly logger = new Logger(SigningService.name);
  private cached: { keyId: string; seed: Buffer; publicKey: Buffer } | null = null;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.ensureKey();
  }

  async ensureKey(): Promise<void> {
    await this.ds.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
      if (this.env.signingPrivateKey) {
        const pair = keyPairFromSeed(Buffer.from(this.env.signingPrivateKey, 'base64'));
        const keyId = keyIdFor(pair.publicKey);
        await em
          .createQueryBuilder()
          .insert()
          .into(SigningKey)
          .values({ keyId, algorithm: 'ed25519', publicKey: pair.publicKey, privateKeyEnc: null })
          .orIgnore()
          .execute();
        return;
      }
      const current = await em.findOne(SigningKey, {
        where: {},
        order: { createdAt: 'DESC' },
      });
      if (current) return;
      const pair = generateKeyPair();
      await em.insert(SigningKey, {
        keyId: keyIdFor(pair.publicKey),
        algorithm: 'ed25519',
        publicKey: pair.publicKey,
        privateKeyEnc: sealSeed(pair.seed, this.env.signingKeySecret),
      });
      this.logger.log({ keyId: keyIdFor(pair.publicKey) }, 'created the signing key');
    });
  }

  /**
   * The key that signs now: the configured one, else the newest key in the database. The newest
   * key id is looked up every time (a rotation by any process takes effect everywhere at once);
   * only the unsealed private part is cached.
   */
  async current(): Promise<{ keyId: string; seed: Buffer; publicKey: Buffer }> {
    if (this.env.signingPrivateKey) {
      if (!this.cached) {
        const pair = keyPairFromSeed(Buffer.from(this.env.signingPrivateKey, 'base64'));
        this.cached = { keyId: keyIdFor(pair.publicKey), ...pair };
      }
      return this.cached;
    }
    const [newest] = await this.ds.query<{ key_id: string }[]>(
      `SELECT key_id FROM signing_key ORDER BY created_at DESC LIMIT 1`,
    );
    if (this.cached && newest && this.cached.keyId === newest.key_id) return this.cached;
    const key = newest
      ? await this.ds.getRepository(SigningKey).findOneBy({ keyId: newest.key_id })
      : null;
    if (!key?.privateKeyEnc) throw new Error('no signing key: the server has not finished booting');
    this.cached = {
      keyId: key.keyId,
      seed: openSeed(key.privateKeyEnc, this.env.signingKeySecret),
      publicKey: key.publicKey,
    };
    return this.cached;
  }

  async sign(data: Buffer): Promise<{ keyId: string; signature: Buffer }> {
    const key = await this.current();
    return { keyId: key.keyId, signature: signBytes(key.seed, data) };
  }

  /**
   * A new signing key, signed by the current one so terminals that pinned the old key can follow
   * (GET /sync/keys). Bundles and manifests are signed with the new key from then on.
   */
  async rotate(): Promise<{ keyId: string; signedBy: string }> {
    if (this.env.signingPrivateKey) {
      throw new Error('SIGNING_PRIVATE_KEY is set: rotate by configuring a new key instead');
    }
    const old = await this.current();
    const pair = generateKeyPair();
    const keyId = keyIdFor(pair.publicKey);
    await this.ds.getRepository(SigningKey).insert({
      keyId,
      algorithm: 'ed25519',
      publicKey: pair.publicKey,
      privateKeyEnc: sealSeed(pair.seed, this.env.signingKeySecret),
      signedBy: old.keyId,
      signature: signBytes(old.seed, pair.publicKey),
    });
    this.cached = null;
    this.logger.log({ keyId, signedBy: old.keyId }, 'rotated the signing key');
    return { keyId, signedBy: old.keyId };
  }

  /** Every key terminals may meet, the current one first. */
  async publishedKeys(): Promise<PublishedKey[]> {
    const current = await this.current();
    const keys = await this.ds.getRepository(SigningKey).find({ order: { createdAt: 'DESC' } });
    keys.sort((a, b) => (a.keyId === current.keyId ? -1 : b.keyId === current.keyId ? 1 : 0));
    return keys.map((k) => ({
      keyId: k.keyId,
      algorithm: 'ed25519',
      publicKey: k.publicKey.toString('base64'),
      minisign: minisignPublicKey(k.keyId, k.publicKey),
      ...(k.signedBy ? { signedBy: k.signedBy } : {}),
      ...(k.signature ? { signature: k.signature.toString('base64') } : {}),
    }));
  }
}
