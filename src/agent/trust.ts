import {
  SYNC_PATHS,
  SyncProtocolError,
  parseEnvelope,
  parseManifestPayload,
  type SignedEnvelope,
  type SyncKeysBody,
  type SyncManifestPayload,
} from '../protocol/sync';
import { verifyEnvelope, verifyKeyRotation } from '../protocol/sync-signature';
import { AgentError } from './errors';
import type { HttpClient } from './http';
import type { KeyState, PinnedKey } from './state';

export interface ManifestExpectations {
  schoolId: string;
  /** Last version this terminal verified: a lower one is a replay (rollback). */
  lastVersion: number;
  /** Trusted now (ms): an expired manifest is refused (freeze). */
  now: number;
}

/** Optional descriptive fields of a lesson, when the server includes them in the signed payload. */
export interface LessonMeta {
  title?: string;
  subject?: string;
  grades?: number[];
  kind?: string;
}

export interface VerifiedManifest {
  envelope: SignedEnvelope;
  payload: SyncManifestPayload;
  meta: Map<string, LessonMeta>;
}

export function findKey(keys: PinnedKey[], keyId: string): PinnedKey | undefined {
  return keys.find((k) => k.keyId === keyId);
}

/**
 * Checks a signed sync manifest: a key this terminal trusts, a valid signature over the exact
 * payload bytes, this school, a version not lower than the last one seen, not expired.
 * @throws AgentError manifest_refused with a message saying which check failed.
 */
export function verifyManifest(
  body: unknown,
  keys: PinnedKey[],
  expect: ManifestExpectations,
): VerifiedManifest {
  let envelope: SignedEnvelope;
  try {
    envelope = parseEnvelope(body);
  } catch (err) {
    throw refused(`malformed manifest envelope (${(err as Error).message})`);
  }
  const key = findKey(keys, envelope.keyId);
  if (!key) {
    throw refused(`manifest signed by key ${envelope.keyId}, which this terminal does not trust`);
  }
  if (!verifyEnvelope(envelope, Buffer.from(key.publicKey, 'base64'))) {
    throw refused('manifest signature does not match its content (tampered or corrupted)');
  }
  let payload: SyncManifestPayload;
  try {
    payload = parseManifestPayload(envelope.payload);
  } catch (err) {
    const why = err instanceof SyncProtocolError ? err.message : String(err);
    throw refused(`signed manifest is malformed: ${why}`);
  }
  if (payload.schoolId !== expect.schoolId) {
    throw refused(
      `manifest is for school ${payload.schoolId}, this terminal belongs to ${expect.schoolId}`,
    );
  }
  if (payload.version < expect.lastVersion) {
    throw refused(
      `manifest version ${payload.version} is older than version ${expect.lastVersion} already seen (replayed)`,
    );
  }
  if (Date.parse(payload.expires) <= expect.now) {
    throw refused(
      `manifest expired at ${payload.expires} (trusted time ${new Date(expect.now).toISOString()})`,
    );
  }
  return { envelope, payload, meta: lessonMeta(envelope.payload) };
}

function refused(message: string): AgentError {
  return new AgentError('manifest_refused', `refused manifest: ${message}; nothing installed`);
}

/** Titles, subjects and grades, read leniently from the signed payload when present. */
export function lessonMeta(payloadText: string): Map<string, LessonMeta> {
  const meta = new Map<string, LessonMeta>();
  const raw = JSON.parse(payloadText) as { lessons?: Record<string, unknown>[] };
  for (const l of raw.lessons ?? []) {
    if (typeof l.lessonId !== 'string') continue;
    const m: LessonMeta = {};
    if (typeof l.title === 'string') m.title = l.title.slice(0, 500);
    if (typeof l.subject === 'string') m.subject = l.subject.slice(0, 64);
    if (typeof l.kind === 'string') m.kind = l.kind.slice(0, 64);
    if (Array.isArray(l.grades)) {
      m.grades = l.grades.filter((g): g is number => Number.isInteger(g) && g >= 1 && g <= 12);
    }
    meta.set(l.lessonId, m);
  }
  return meta;
}

/**
 * Follows key rotations: a key from /sync/keys is trusted only when a key already trusted signed
 * it, so a server (or a man in the middle) cannot introduce a key of its own.
 * @returns the keys added
 */
export async function followRotations(client: HttpClient, state: KeyState): Promise<PinnedKey[]> {
  const { body } = await client.json<SyncKeysBody>(SYNC_PATHS.keys);
  const offered = Array.isArray(body?.keys) ? body.keys : [];
  const added: PinnedKey[] = [];
  let progress = true;
  while (progress) {
    progress = false;
    for (const key of offered) {
      if (typeof key?.keyId !== 'string' || typeof key.publicKey !== 'string') continue;
      if (findKey(state.keys, key.keyId)) continue;
      const signer = key.signedBy ? findKey(state.keys, key.signedBy) : undefined;
      if (!signer) continue;
      const signerKey = { keyId: signer.keyId, publicKey: Buffer.from(signer.publicKey, 'base64') };
      if (!verifyKeyRotation(key, signerKey)) {
        throw new AgentError(
          'key_refused',
          `key ${key.keyId} claims to be signed by ${signer.keyId} but the signature is invalid`,
        );
      }
      const pinned = { keyId: key.keyId, publicKey: key.publicKey };
      state.keys.push(pinned);
      added.push(pinned);
      progress = true;
    }
  }
  return added;
}
