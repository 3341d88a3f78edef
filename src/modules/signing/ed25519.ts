import {
  KeyObject,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';

/** Raw Ed25519 keys through node:crypto; PKCS#8/SPKI prefixes wrap the 32-byte forms. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface RawKeyPair {
  seed: Buffer;
  publicKey: Buffer;
}

export function generateKeyPair(): RawKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { seed: rawSeed(privateKey), publicKey: rawPublic(publicKey) };
}

export function keyPairFromSeed(seed: Buffer): RawKeyPair {
  const privateKey = privateKeyFromSeed(seed);
  return { seed, publicKey: rawPublic(createPublicKey(privateKey)) };
}

export function privateKeyFromSeed(seed: Buffer): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function rawSeed(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
}

function rawPublic(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

export function signBytes(seed: Buffer, data: Buffer): Buffer {
  return sign(null, data, privateKeyFromSeed(seed));
}

export function verifyBytes(publicKey: Buffer, data: Buffer, signature: Buffer): boolean {
  return verify(null, data, publicKeyFromRaw(publicKey), signature);
}

/** AES-256-GCM under a key derived from the configured secret: the database alone cannot sign. */
export function sealSeed(seed: Buffer, secret: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(secret), iv);
  const body = Buffer.concat([cipher.update(seed), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function openSeed(sealed: Buffer, secret: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', deriveKey(secret), sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
}

function deriveKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'classcast', 'signing-key-seal', 32));
}

/** minisign's public key file: "Ed" + key number (8 bytes, little-endian) + public key. */
export function minisignPublicKey(keyId: string, publicKey: Buffer): string {
  const keyNum = Buffer.from(keyId, 'hex');
  const blob = Buffer.concat([Buffer.from('Ed'), keyNum, publicKey]).toString('base64');
  const display = Buffer.from(keyNum).reverse().toString('hex').toUpperCase();
  return `untrusted comment: minisign public key ${display}\n${blob}\n`;
}

export function keyIdFor(publicKey: Buffer): string {
  return createHash('sha256').update(publicKey).digest().subarray(0, 8).toString('hex');
}
