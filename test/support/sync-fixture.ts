import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRange } from '../../src/common/http/ranges';
import { buildBundle, type BuildFile } from '../../src/modules/packaging/bundle/bundle-builder';
import {
  generateKeyPair,
  keyIdFor,
  minisignPublicKey,
  signBytes,
} from '../../src/modules/signing/ed25519';
import {
  serializeManifestPayload,
  type SignedEnvelope,
  type SyncManifestLesson,
  type SyncManifestPayload,
} from '../../src/protocol/sync';

/**
 * A sync server for agent tests that do not need the whole Classcast server: it speaks the
 * protocol of API.md "Terminal sync" with real bundles (the packaging bundle builder), real
 * Ed25519 signatures and RFC 9110 ranges, and records receipts and inventories. The journey
 * through the real server is test/agent-journey.e2e-spec.ts.
 */
export interface FixtureLesson {
  lessonId: string;
  version: number;
  files: { path: string; data: Buffer; mediaType?: string }[];
  title?: string;
  subject?: string;
  grades?: number[];
}

interface Signer {
  keyId: string;
  seed: Buffer;
  publicKey: Buffer;
  signedBy?: string;
  signature?: Buffer;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export class SyncFixture {
  readonly schoolId = randomUUID();
  readonly token = `cct_${randomBytes(16).toString('hex')}`;
  readonly code = 'K3QX-7P2M';
  keys: Signer[] = [];
  url = '';
  version = 1;
  expiresInMs = 3600_000;
  issuedAt = new Date();
  nextPollSeconds = 1;
  lessons: FixtureLesson[] = [];
  bundles: { id: string; path: string; size: number; sha256: string; priority: number }[] = [];
  blobs = new Map<string, Buffer>();
  receipts: unknown[] = [];
  inventories: { lessons: { lessonId: string; version: number }[] }[] = [];
  requests: { method: string; url: string; range?: string }[] = [];
  /** Answer the next N manifest requests with this status (500s for backoff tests). */
  failManifest = { count: 0, status: 500, retryAfter: undefined as string | undefined };
  /** Replace the served envelope (tampering, other keys, other schools). */
  envelopeOverride?: (env: SignedEnvelope) => SignedEnvelope;
  private server?: Server;

  constructor(readonly work: string) {}

  static async start(): Promise<SyncFixture> {
    const f = new SyncFixture(await mkdtemp(join(tmpdir(), 'classcast-syncfix-')));
    f.rotateKey();
    f.server = createServer((req, res) => {
      f.handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((r) => f.server?.listen(0, '127.0.0.1', r));
    f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
    return f;
  }

  get currentKey(): Signer {
    return this.keys[0];
  }

  /** A new signing key, signed by the previous one (or the first). */
  rotateKey(): Signer {
    const pair = generateKeyPair();
    const old = this.keys[0];
    const key: Signer = {
      keyId: keyIdFor(pair.publicKey),
      ...pair,
      ...(old ? { signedBy: old.keyId, signature: signBytes(old.seed, pair.publicKey) } : {}),
    };
    this.keys.unshift(key);
    return key;
  }

  publishedKeys() {
    return this.keys.map((k) => ({
      keyId: k.keyId,
      publicKey: k.publicKey.toString('base64'),
      minisign: minisignPublicKey(k.keyId, k.publicKey),
      ...(k.signedBy ? { signedBy: k.signedBy, signature: k.signature?.toString('base64') } : {}),
    }));
  }

  payload(): SyncManifestPayload {
    return {
      schoolId: this.schoolId,
      version: this.version,
      issuedAt: this.issuedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      expires: new Date(Date.now() + this.expiresInMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      keysVersion: this.keys.length,
      nextPollSeconds: this.nextPollSeconds,
      lessons: this.lessons.map((l): SyncManifestLesson => ({
        lessonId: l.lessonId,
        version: l.version,
        files: l.files.map((f) => ({ path: f.path, sha256: sha256(f.data), size: f.data.length })),
      })),
      bundles: this.bundles.map((b) => ({
        id: b.id,
        url: `/api/v1/sync/bundles/${b.id}`,
        size: b.size,
        sha256: b.sha256,
        priority: b.priority,
      })),
      remove: [],
    };
  }

  /** The signed envelope, with lesson titles/subjects/grades added to the payload when given. */
  envelope(payload = this.payload(), key = this.currentKey): SignedEnvelope {
    const withMeta = JSON.parse(serializeManifestPayload(payload)) as SyncManifestPayload & {
      lessons: Record<string, unknown>[];
    };
    for (const l of withMeta.lessons) {
      const src = this.lessons.find((x) => x.lessonId === l.lessonId);
      if (src?.title) l.title = src.title;
      if (src?.subject) l.subject = src.subject;
      if (src?.grades) l.grades = src.grades;
    }
    const text = JSON.stringify(withMeta);
    return {
      payload: text,
      signature: signBytes(key.seed, Buffer.from(text)).toString('base64'),
      keyId: key.keyId,
    };
  }

  /**
   * Publishes lessons in one new bundle. `bases` maps a path to the file the terminal holds,
   * so changed files travel as zstd patches.
   */
  async publish(
    lessons: FixtureLesson[],
    opts: { bases?: Map<string, Buffer>; priority?: number; bundle?: boolean } = {},
  ): Promise<void> {
    for (const l of lessons) {
      this.lessons = this.lessons.filter((x) => x.lessonId !== l.lessonId);
      this.lessons.push(l);
      for (const f of l.files) this.blobs.set(sha256(f.data), f.data);
    }
    this.version += 1;
    this.issuedAt = new Date();
    if (opts.bundle === false) return;
    const id = randomUUID();
    const dir = join(this.work, id);
    await mkdir(dir, { recursive: true });
    const files: BuildFile[] = [];
    let n = 0;
    for (const l of lessons) {
      for (const f of l.files) {
        const localPath = join(dir, `in-${n++}`);
        await writeFile(localPath, f.data);
        const baseData = opts.bases?.get(f.path);
        let base;
        if (baseData) {
          const basePath = join(dir, `base-${n}`);
          await writeFile(basePath, baseData);
          base = { sha256: sha256(baseData), size: baseData.length, localPath: basePath };
        }
        files.push({
          sha256: sha256(f.data),
          size: f.data.length,
          mediaType: f.mediaType ?? 'application/octet-stream',
          localPath,
          base,
          targets: [{ lessonId: l.lessonId, version: l.version, path: f.path }],
        });
      }
    }
    const out = join(dir, 'bundle.tar');
    const built = await buildBundle(
      {
        bundleId: id,
        audience: { type: 'school', id: this.schoolId },
        lessons: lessons.map((l) => ({ lessonId: l.lessonId, version: l.version })),
        files,
        zstdLevel: 3,
        patchMaxBaseBytes: 128 * 1024 * 1024,
        workDir: join(dir, 'work'),
        signer: { keyId: this.currentKey.keyId, seed: this.currentKey.seed },
      },
      out,
    );
    this.bundles.push({
      id,
      path: out,
      size: built.size,
      sha256: built.sha256,
      priority: opts.priority ?? 0,
    });
  }

  bundleBytesServed(): number {
    return this.requests.filter((r) => r.url.includes('/sync/bundles/')).length;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
    await rm(this.work, { recursive: true, force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({
      method: req.method ?? 'GET',
      url: url.pathname,
      range: req.headers.range,
    });
    const body = await readBody(req);
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    if (url.pathname === '/api/v1/sync/enroll' && req.method === 'POST') {
      const { code } = JSON.parse(body) as { code: string };
      if (code.replace(/[-\s]/g, '').toUpperCase() !== this.code.replace('-', '')) {
        return json(403, { statusCode: 403, code: 'enrollment_refused', message: 'unknown code' });
      }
      return json(201, {
        terminalId: randomUUID(),
        token: this.token,
        schoolId: this.schoolId,
        signingKeys: this.publishedKeys().map((k) => ({ ...k, algorithm: 'ed25519' })),
      });
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return json(401, { statusCode: 401, code: 'unauthorized', message: 'no token' });
    }
    if (url.pathname === '/api/v1/sync/keys') return json(200, { keys: this.publishedKeys() });
    if (url.pathname === '/api/v1/sync/manifest') {
      if (this.failManifest.count > 0) {
        this.failManifest.count -= 1;
        return json(
          this.failManifest.status,
          { statusCode: this.failManifest.status, code: 'internal_error', message: 'down' },
          this.failManifest.retryAfter ? { 'retry-after': this.failManifest.retryAfter } : {},
        );
      }
      let env = this.envelope();
      if (this.envelopeOverride) env = this.envelopeOverride(env);
      return json(200, env, { etag: `"m${sha256(Buffer.from(env.payload)).slice(0, 16)}"` });
    }
    if (url.pathname === '/api/v1/sync/receipts' && req.method === 'POST') {
      this.receipts.push(JSON.parse(body));
      return json(201, {});
    }
    if (url.pathname === '/api/v1/sync/inventory' && req.method === 'POST') {
      this.inventories.push(JSON.parse(body));
      return json(200, {});
    }
    const bundle = /^\/api\/v1\/sync\/bundles\/([0-9a-f-]{36})$/.exec(url.pathname);
    if (bundle) {
      const b = this.bundles.find((x) => x.id === bundle[1]);
      if (!b) return json(404, { statusCode: 404, code: 'not_found', message: 'no bundle' });
      return sendRanged(req, res, b.path, b.size, b.sha256);
    }
    const file = /^\/api\/v1\/sync\/files\/([0-9a-f]{64})$/.exec(url.pathname);
    if (file) {
      const data = this.blobs.get(file[1]);
      if (!data) return json(404, { statusCode: 404, code: 'not_found', message: 'no file' });
      const path = join(this.work, `blob-${file[1]}`);
      await writeFile(path, data);
      return sendRanged(req, res, path, data.length, file[1]);
    }
    return json(404, { statusCode: 404, code: 'route_not_found', message: 'no route' });
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

async function sendRanged(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  size: number,
  sha: string,
): Promise<void> {
  const etag = `"${sha}"`;
  const ifRange = req.headers['if-range'];
  const range =
    ifRange && ifRange !== etag ? { kind: 'full' as const } : parseRange(req.headers.range, size);
  const headers: Record<string, string | number> = {
    etag,
    'accept-ranges': 'bytes',
    'content-type': 'application/x-tar',
    'cache-control': 'private, immutable, no-transform',
  };
  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` });
    return void res.end();
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size - 1];
  res.writeHead(range.kind === 'partial' ? 206 : 200, {
    ...headers,
    'content-length': size === 0 ? 0 : end - start + 1,
    ...(range.kind === 'partial' ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  if (req.method === 'HEAD' || size === 0) return void res.end();
  await stat(path);
  const stream = createReadStream(path, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
