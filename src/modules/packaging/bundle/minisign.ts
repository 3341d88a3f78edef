import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../../common/errors/app-error';
import { signBytes, verifyBytes } from '../../signing/ed25519';

/**
 * minisign signature files (https://jedisct1.github.io/minisign/), written with our own Ed25519
 * seed so that schools can check bundles with the stock `minisign -V` and no Classcast code.
 *
 * Only the prehashed algorithm "ED" is produced: the signed message is BLAKE2b-512 of the file,
 * so a multi-gigabyte bundle is signed from a streamed hash instead of being loaded whole.
 */
const PREHASHED = 'ED';
/** minisign < 0.10 signed the raw file ("Ed"); accepted when verifying, never produced. */
const LEGACY = 'Ed';
/** minisign's own limits on the two comment lines (COMMENTMAXBYTES, TRUSTEDCOMMENTMAXBYTES). */
const UNTRUSTED_MAX_BYTES = 1024 - 'untrusted comment: '.length;
const TRUSTED_MAX_BYTES = 8192 - 'trusted comment: '.length;
const DEFAULT_UNTRUSTED = 'signature from classcast secret key';

export type MinisignInput = Buffer | { blake2b512: Buffer };

export interface MinisignPublicKey {
  /** 16 hex chars: the 8 key-number bytes in the order minisign's binary formats hold them. */
  keyId: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Buffer;
}

export type MinisignVerification =
  | { valid: true; keyId: string; trustedComment: string; untrustedComment: string }
  | { valid: false; reason: string };

export function blake2b512(data: Buffer): Buffer {
  return createHash('blake2b512').update(data).digest();
}

/** Streams the file through BLAKE2b-512: what minisign signs for a file of any size. */
export async function blake2bOfFile(path: string): Promise<Buffer> {
  const hash = createHash('blake2b512');
  await pipeline(createReadStream(path), hash);
  return hash.digest();
}

/** The text of a `.minisig` file for `data` (or its precomputed BLAKE2b-512). */
export function minisignSignature(
  data: MinisignInput,
  keyId: string,
  seed: Buffer,
  trustedComment: string,
  untrustedComment: string = DEFAULT_UNTRUSTED,
): string {
  const keyNum = keyNumber(keyId);
  checkCommentLine('trusted', trustedComment, TRUSTED_MAX_BYTES);
  checkCommentLine('untrusted', untrustedComment, UNTRUSTED_MAX_BYTES);
  const signature = signBytes(seed, digestOf(data));
  const sigLine = Buffer.concat([Buffer.from(PREHASHED, 'latin1'), keyNum, signature]);
  // The global signature binds the trusted comment to this signature, so it cannot be swapped.
  const globalSignature = signBytes(
    seed,
    Buffer.concat([signature, Buffer.from(trustedComment, 'utf8')]),
  );
  return (
    `untrusted comment: ${untrustedComment}\n${sigLine.toString('base64')}\n` +
    `trusted comment: ${trustedComment}\n${globalSignature.toString('base64')}\n`
  );
}

/**
 * Checks a `.minisig` text as `minisign -V` does: key number, file signature, then the global
 * signature over the trusted comment. A legacy ("Ed") signature needs the file bytes themselves.
 */
export function verifyMinisign(
  data: MinisignInput,
  signatureText: string,
  key: MinisignPublicKey,
): MinisignVerification {
  const lines = signatureText.split('\n');
  if (lines.length < 4 || lines.slice(4).some((line) => line.trim() !== '')) {
    return { valid: false, reason: 'not a minisign signature file' };
  }
  const [untrustedLine, sigB64, trustedLine, globalB64] = lines.map((l) => l.replace(/\r$/, ''));
  if (
    !untrustedLine.startsWith('untrusted comment: ') ||
    !trustedLine.startsWith('trusted comment: ')
  ) {
    return { valid: false, reason: 'missing comment lines' };
  }
  const sigLine = decodeBase64(sigB64);
  const globalSignature = decodeBase64(globalB64);
  if (sigLine?.length !== 74 || globalSignature?.length !== 64) {
    return { valid: false, reason: 'malformed signature lines' };
  }
  const algorithm = sigLine.subarray(0, 2).toString('latin1');
  const keyId = sigLine.subarray(2, 10).toString('hex');
  const signature = sigLine.subarray(10);
  if (keyId !== key.keyId.toLowerCase()) {
    return { valid: false, reason: `signed by key ${keyId}, not ${key.keyId}` };
  }
  let message: Buffer;
  if (algorithm === PREHASHED) {
    message = digestOf(data);
  } else if (algorithm === LEGACY && Buffer.isBuffer(data)) {
    message = data;
  } else {
    return { valid: false, reason: `unsupported signature algorithm ${JSON.stringify(algorithm)}` };
  }
  if (!verifyBytes(key.publicKey, message, signature)) {
    return { valid: false, reason: 'signature does not match the data' };
  }
  const trustedComment = trustedLine.slice('trusted comment: '.length);
  const commented = Buffer.concat([signature, Buffer.from(trustedComment, 'utf8')]);
  if (!verifyBytes(key.publicKey, commented, globalSignature)) {
    return { valid: false, reason: 'trusted comment signature does not match' };
  }
  return {
    valid: true,
    keyId,
    trustedComment,
    untrustedComment: untrustedLine.slice('untrusted comment: '.length),
  };
}

/** Reads a minisign public key: the whole `.pub` file text or only its base64 line. */
export function parseMinisignPublicKey(text: string): MinisignPublicKey {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('untrusted comment:'))[0];
  const raw = line === undefined ? undefined : decodeBase64(line);
  if (raw?.length !== 42 || raw.subarray(0, 2).toString('latin1') !== 'Ed') {
    throw new AppError('bad_request', 'not a minisign Ed25519 public key');
  }
  return { keyId: raw.subarray(2, 10).toString('hex'), publicKey: Buffer.from(raw.subarray(10)) };
}

function digestOf(data: MinisignInput): Buffer {
  if (Buffer.isBuffer(data)) return blake2b512(data);
  if (data.blake2b512.length !== 64) {
    throw new AppError('internal_error', 'a BLAKE2b-512 digest is 64 bytes');
  }
  return data.blake2b512;
}

function keyNumber(keyId: string): Buffer {
  if (!/^[0-9a-fA-F]{16}$/.test(keyId)) {
    throw new AppError('internal_error', `a minisign key id is 16 hex characters, got "${keyId}"`);
  }
  return Buffer.from(keyId, 'hex');
}

/** Each comment is one line of the file: a newline would let a comment forge the next line. */
function checkCommentLine(which: string, comment: string, maxBytes: number): void {
  if (/[\r\n\0]/.test(comment)) {
    throw new AppError('internal_error', `the ${which} comment must be a single line`);
  }
  if (Buffer.byteLength(comment, 'utf8') > maxBytes) {
    throw new AppError('internal_error', `the ${which} comment exceeds ${maxBytes} bytes`);
  }
}

/** Strict base64: Buffer.from would silently skip invalid characters. */
function decodeBase64(text: string | undefined): Buffer | undefined {
  if (text === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
    return undefined;
  }
  return Buffer.from(text, 'base64');
}
