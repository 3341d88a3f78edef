import { createPublicKey, verify } from 'node:crypto';
import type { SignedEnvelope, SyncKey } from './sync';

/** SPKI DER prefix of a raw Ed25519 public key (RFC 8410). */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function ed25519Verify(publicKey: Buffer, data: Buffer, signature: Buffer): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const key = createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
  return verify(null, data, key, signature);
}

/** True when `signature` is a valid Ed25519 signature by `publicKey` over the payload's UTF-8 bytes. */
export function verifyEnvelope(envelope: SignedEnvelope, publicKey: Buffer): boolean {
  return ed25519Verify(
    publicKey,
    Buffer.from(envelope.payload, 'utf8'),
    Buffer.from(envelope.signature, 'base64'),
  );
}

/** True when `next` was signed by `signer` (a rotation a terminal may follow). */
export function verifyKeyRotation(
  next: Pick<SyncKey, 'publicKey' | 'signedBy' | 'signature'>,
  signer: { keyId: string; publicKey: Buffer },
): boolean {
  if (!next.signedBy || !next.signature || next.signedBy !== signer.keyId) return false;
  return ed25519Verify(
    signer.publicKey,
    Buffer.from(next.publicKey, 'base64'),
    Buffer.from(next.signature, 'base64'),
  );
}
