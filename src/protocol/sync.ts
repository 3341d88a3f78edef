/**
 * The terminal sync protocol (API.md "Terminal sync"), shared by the server (src/modules/delivery)
 * and the school agent (src/agent). Plain types and pure parsers only: no Nest, no TypeORM, no I/O,
 * so the agent can run on a small terminal with nothing but Node.
 */
export type {
  BundleAudience,
  BundleEncoding,
  BundleEntry,
  BundleLesson,
  BundleManifest,
  BundleTarget,
} from '../modules/packaging/bundle/bundle-manifest';
export {
  BUNDLE_FORMAT,
  MANIFEST_MEMBER,
  MANIFEST_SIGNATURE_MEMBER,
  bundleTrustedComment,
  memberName,
} from '../modules/packaging/bundle/bundle-manifest';

/** Paths under the server root (the API prefix included). */
export const SYNC_PATHS = {
  enroll: '/api/v1/sync/enroll',
  keys: '/api/v1/sync/keys',
  manifest: '/api/v1/sync/manifest',
  bundle: (id: string) => `/api/v1/sync/bundles/${id}`,
  file: (sha256: string) => `/api/v1/sync/files/${sha256}`,
  receipts: '/api/v1/sync/receipts',
  inventory: '/api/v1/sync/inventory',
} as const;

// ---- manifest ---------------------------------------------------------------------------------

export interface SyncManifestFile {
  path: string;
  /** sha256 and size of the bytes the terminal installs (the rendition for its profile, else the source). */
  sha256: string;
  size: number;
}

export interface SyncManifestLesson {
  lessonId: string;
  version: number;
  files: SyncManifestFile[];
  /** For the offline library's shelves (subject and grade); not needed to install. */
  title?: string;
  subject?: string;
  grades?: number[];
}

export interface SyncManifestBundle {
  id: string;
  /** Absolute URL or absolute path from the server root (`/api/v1/sync/bundles/<id>`). */
  url: string;
  size: number;
  sha256: string;
  /** Lower numbers first (0 is the most urgent). */
  priority: number;
  /** RFC 3339: do not start before (a receive window). */
  notBefore?: string;
}

export interface SyncManifestRemoval {
  lessonId: string;
}

/** The parsed payload of GET /sync/manifest: the school's desired installed state. */
export interface SyncManifestPayload {
  schoolId: string;
  /** Only grows; terminals refuse a lower one (rollback). */
  version: number;
  /** RFC 3339. */
  issuedAt: string;
  /** RFC 3339; terminals refuse an expired manifest (freeze). */
  expires: string;
  /** How many signing keys have been published (grows on rotation): refetch /sync/keys when it moves. */
  keysVersion: number;
  nextPollSeconds: number;
  lessons: SyncManifestLesson[];
  bundles: SyncManifestBundle[];
  remove: SyncManifestRemoval[];
}

/** GET /sync/manifest body: `payload` is the exact signed JSON text. */
export interface SignedEnvelope {
  payload: string;
  /** base64 Ed25519 signature over the UTF-8 bytes of `payload`. */
  signature: string;
  /** 16 hex characters, as in /sync/keys. */
  keyId: string;
}

// ---- keys -------------------------------------------------------------------------------------

export interface SyncKey {
  keyId: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  publicKey: string;
  /** The minisign public key file text. */
  minisign: string;
  /** Key id of the key that signed this one (a rotation). */
  signedBy?: string;
  /** base64 Ed25519 signature by `signedBy` over the raw 32 public key bytes of this key. */
  signature?: string;
}

export interface SyncKeysBody {
  /** The current key first. */
  keys: SyncKey[];
}

// ---- enrollment -------------------------------------------------------------------------------

export interface EnrollRequest {
  /** `XXXX-XXXX`, case-insensitive, hyphens and spaces ignored. */
  code: string;
  name: string;
  agentVersion: string;
}

export interface EnrollResponse {
  terminalId: string;
  token: string;
  schoolId: string;
  signingKeys: (SyncKey & { algorithm: 'ed25519' })[];
}

// ---- receipts and inventory -------------------------------------------------------------------

export const RECEIPT_STATES = ['installed', 'failed'] as const;
export type ReceiptState = (typeof RECEIPT_STATES)[number];
export const RECEIPT_VIAS = ['http', 'broadcast', 'usb'] as const;
export type ReceiptVia = (typeof RECEIPT_VIAS)[number];

export interface ReceiptLoss {
  symbolsExpected: number;
  symbolsReceived: number;
  objectsRepaired: number;
}

/** POST /sync/receipts. */
export interface ReceiptBody {
  bundleId: string;
  state: ReceiptState;
  error?: string;
  bytesReceived: number;
  via: ReceiptVia;
  loss?: ReceiptLoss;
}

/** POST /sync/inventory: every lesson version the terminal has installed. */
export interface InventoryBody {
  lessons: { lessonId: string; version: number }[];
  freeBytes: number;
  agentVersion: string;
}

/** Limits the server enforces on receipts and inventory (422 beyond them). */
export const SYNC_LIMITS = {
  errorMaxLength: 2000,
  agentVersionMaxLength: 64,
  inventoryMaxLessons: 10_000,
} as const;

// ---- pure helpers -----------------------------------------------------------------------------

/** The strong ETag of a bundle or file: its sha256 in quotes. */
export function contentEtag(sha256: string): string {
  return `"${sha256}"`;
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEY_ID = /^[0-9a-f]{16}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export class SyncProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SyncProtocolError';
  }
}

type Json = Record<string, unknown>;

function obj(v: unknown, where: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new SyncProtocolError(`${where} is not an object`);
  }
  return v as Json;
}

function str(v: unknown, where: string, pattern?: RegExp): string {
  if (typeof v !== 'string') throw new SyncProtocolError(`${where} is not a string`);
  if (pattern && !pattern.test(v)) throw new SyncProtocolError(`${where} is malformed`);
  return v;
}

function int(v: unknown, where: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new SyncProtocolError(`${where} is not an integer >= ${min}`);
  }
  return v;
}

function arr(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new SyncProtocolError(`${where} is not an array`);
  return v;
}

function time(v: unknown, where: string): string {
  const s = str(v, where, RFC3339);
  if (Number.isNaN(Date.parse(s))) throw new SyncProtocolError(`${where} is not a time`);
  return s;
}

/** Shape check of the GET /sync/manifest body (the signature is checked separately). */
export function parseEnvelope(body: unknown): SignedEnvelope {
  const o = obj(body, 'manifest envelope');
  return {
    payload: str(o.payload, 'payload'),
    signature: str(o.signature, 'signature', BASE64),
    keyId: str(o.keyId, 'keyId', KEY_ID),
  };
}

/**
 * Parses and checks the shape of a signed payload. Call it only after the signature verified:
 * it checks structure, not trust (school id, version and expiry are the caller's to compare).
 */
export function parseManifestPayload(payload: string): SyncManifestPayload {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    throw new SyncProtocolError('manifest payload is not JSON');
  }
  const o = obj(raw, 'manifest');
  const lessons = arr(o.lessons, 'lessons').map((l, i) => {
    const lo = obj(l, `lessons[${i}]`);
    return {
      lessonId: str(lo.lessonId, `lessons[${i}].lessonId`, UUID),
      version: int(lo.version, `lessons[${i}].version`, 1),
      files: arr(lo.files, `lessons[${i}].files`).map((f, j) => {
        const fo = obj(f, `lessons[${i}].files[${j}]`);
        return {
          path: safeLessonPath(str(fo.path, `lessons[${i}].files[${j}].path`)),
          sha256: str(fo.sha256, `lessons[${i}].files[${j}].sha256`, SHA256_HEX),
          size: int(fo.size, `lessons[${i}].files[${j}].size`),
        };
      }),
    };
  });
  const bundles = arr(o.bundles, 'bundles').map((b, i) => {
    const bo = obj(b, `bundles[${i}]`);
    const bundle: SyncManifestBundle = {
      id: str(bo.id, `bundles[${i}].id`, UUID),
      url: str(bo.url, `bundles[${i}].url`),
      size: int(bo.size, `bundles[${i}].size`),
      sha256: str(bo.sha256, `bundles[${i}].sha256`, SHA256_HEX),
      priority: int(bo.priority, `bundles[${i}].priority`),
    };
    if (bo.notBefore !== undefined)
      bundle.notBefore = time(bo.notBefore, `bundles[${i}].notBefore`);
    return bundle;
  });
  const remove = arr(o.remove, 'remove').map((r, i) => ({
    lessonId: str(obj(r, `remove[${i}]`).lessonId, `remove[${i}].lessonId`, UUID),
  }));
  return {
    schoolId: str(o.schoolId, 'schoolId', UUID),
    version: int(o.version, 'version', 1),
    issuedAt: time(o.issuedAt, 'issuedAt'),
    expires: time(o.expires, 'expires'),
    keysVersion: int(o.keysVersion, 'keysVersion'),
    nextPollSeconds: int(o.nextPollSeconds, 'nextPollSeconds', 1),
    lessons,
    bundles,
    remove,
  };
}

/**
 * A lesson file path a terminal may write below its library: relative, `/`-separated, no empty,
 * `.` or `..` segments, no NUL or backslash. Throws otherwise (a manifest must never escape).
 */
export function safeLessonPath(path: string): string {
  const segments = path.split('/');
  const bad =
    path.length === 0 ||
    path.length > 1024 ||
    path.includes('\0') ||
    path.includes('\\') ||
    segments.some((s) => s === '' || s === '.' || s === '..');
  if (bad) throw new SyncProtocolError(`unsafe lesson path ${JSON.stringify(path)}`);
  return path;
}

/**
 * The exact payload text the server signs: keys in schema order, so the same state gives the
 * same bytes (and the same ETag) on every replica.
 */
export function serializeManifestPayload(p: SyncManifestPayload): string {
  return JSON.stringify({
    schoolId: p.schoolId,
    version: p.version,
    issuedAt: p.issuedAt,
    expires: p.expires,
    keysVersion: p.keysVersion,
    nextPollSeconds: p.nextPollSeconds,
    lessons: p.lessons.map((l) => ({
      lessonId: l.lessonId,
      version: l.version,
      files: l.files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })),
      ...(l.title === undefined ? {} : { title: l.title }),
      ...(l.subject === undefined ? {} : { subject: l.subject }),
      ...(l.grades === undefined ? {} : { grades: l.grades }),
    })),
    bundles: p.bundles.map((b) => ({
      id: b.id,
      url: b.url,
      size: b.size,
      sha256: b.sha256,
      priority: b.priority,
      ...(b.notBefore === undefined ? {} : { notBefore: b.notBefore }),
    })),
    remove: p.remove.map((r) => ({ lessonId: r.lessonId })),
  });
}
