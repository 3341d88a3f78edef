import { createHash, randomBytes } from 'node:crypto';

/** Crockford base32: no I, L, O or U, so a code survives being read out over a bad phone line. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 8 characters (40 random bits), shown as XXXX-XXXX. */
export function newEnrollmentCode(): string {
  const bytes = randomBytes(5);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let out = '';
  for (let i = 7; i >= 0; i--) out += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return `${out.slice(0, 4)}-${out.slice(4)}`;
}

/**
 * The canonical form of what a person typed: case-insensitive, hyphens and spaces ignored,
 * and the look-alikes Crockford allows (O -> 0, I and L -> 1). Null when it cannot be a code.
 */
export function normaliseEnrollmentCode(input: string): string | null {
  const cleaned = input
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  return /^[0-9A-HJKMNP-TV-Z]{8}$/.test(cleaned) ? cleaned : null;
}

export function hashSecret(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
