/**
 * LCT header (RFC 5651 section 5.1) with the header extensions FLUTE uses (RFC 5775 section 5.2,
 * RFC 6726 section 3.4.1). Pure functions on bytes: no sockets, no state.
 *
 *  0                   1                   2                   3
 *  |   V   | C |PSI|S| O |H|Res|A|B|   HDR_LEN     | Codepoint (CP)|
 *  | Congestion Control Information (CCI, length = 32*(C+1) bits)  |
 *  |  Transport Session Identifier (TSI, length = 32*S+16*H bits)  |
 *  |   Transport Object Identifier (TOI, length = 32*O+16*H bits)  |
 *  |                Header Extensions (if applicable)              |
 */

export const LCT_VERSION = 1;
/** Header Extension Types (RFC 5651 5.2, RFC 5775 5.2.1, RFC 6726 3.4.1). */
export const HET_EXT_NOP = 0;
export const HET_EXT_AUTH = 1;
export const HET_EXT_TIME = 2;
export const HET_EXT_FTI = 64;
export const HET_EXT_FDT = 192;
/** TOI 0 carries FDT instances (RFC 6726 3.3). */
export const FDT_TOI = 0;
export const FLUTE_VERSION = 2;

export interface HeaderExtension {
  type: number;
  /** Content after the HET (and HEL for variable-length extensions). */
  body: Uint8Array;
}

export interface LctHeader {
  /** Protocol-Specific Indication, 2 bits. */
  psi: number;
  /** Opaque Congestion Control Information; Classcast sends a per-session packet counter. */
  cci: number;
  tsi: number;
  toi: number;
  codepoint: number;
  /** A: the sender is about to close the session. */
  closeSession: boolean;
  /** B: the sender is about to close this object. */
  closeObject: boolean;
  extensions: HeaderExtension[];
  /** Length of the whole LCT header in bytes (HDR_LEN * 4). */
  headerLength: number;
}

export class LctParseError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Fixed-size extensions (HET >= 128) are one 32-bit word: 8 bits of type and 24 of content. */
function extensionBytes(ext: HeaderExtension): number {
  if (ext.type >= 128) {
    if (ext.body.length !== 3) throw new RangeError(`extension ${ext.type} takes 3 content bytes`);
    return 4;
  }
  const total = 2 + ext.body.length;
  if (total % 4 !== 0) throw new RangeError(`extension ${ext.type} is not a multiple of 32 bits`);
  if (total / 4 > 255) throw new RangeError(`extension ${ext.type} is too long`);
  return total;
}

/**
 * Classcast writes 32-bit CCI, TSI and TOI (C=0, S=1, O=1, H=0), so the fixed part is 16 bytes.
 * Returns the header; the caller appends the FEC payload ID and the symbol.
 */
export function encodeLctHeader(h: Omit<LctHeader, 'headerLength'>): Buffer {
  for (const [name, value] of [
    ['cci', h.cci],
    ['tsi', h.tsi],
    ['toi', h.toi],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(`${name} must be a 32-bit unsigned integer`);
    }
  }
  const extLength = h.extensions.reduce((sum, e) => sum + extensionBytes(e), 0);
  const length = 16 + extLength;
  const words = length / 4;
  if (words > 255) throw new RangeError('LCT header too long');
  const buf = Buffer.alloc(length);
  const first =
    (LCT_VERSION << 28) |
    (0 << 26) | // C = 0: 32-bit CCI
    ((h.psi & 3) << 24) |
    (1 << 23) | // S = 1: 32-bit TSI
    (1 << 21) | // O = 1: 32-bit TOI
    (0 << 20) | // H = 0
    ((h.closeSession ? 1 : 0) << 17) |
    ((h.closeObject ? 1 : 0) << 16) |
    (words << 8) |
    (h.codepoint & 0xff);
  buf.writeUInt32BE(first >>> 0, 0);
  buf.writeUInt32BE(h.cci, 4);
  buf.writeUInt32BE(h.tsi, 8);
  buf.writeUInt32BE(h.toi, 12);
  let at = 16;
  for (const ext of h.extensions) {
    buf[at] = ext.type;
    if (ext.type >= 128) {
      buf.set(ext.body, at + 1);
      at += 4;
    } else {
      const n = extensionBytes(ext);
      buf[at + 1] = n / 4;
      buf.set(ext.body, at + 2);
      at += n;
    }
  }
  return buf;
}

function readUnsigned(buf: Uint8Array, at: number, bytes: number): number {
  let value = 0;
  for (let i = 0; i < bytes; i++) value = value * 256 + buf[at + i];
  return value;
}

/**
 * Parses any valid LCT header (all C/S/O/H combinations), so a third-party sender's packets are
 * understood too. Identifiers wider than 2^53 are refused rather than silently rounded.
 */
export function parseLctHeader(packet: Uint8Array): LctHeader {
  if (packet.length < 4) throw new LctParseError('short_packet');
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const first = view.getUint32(0);
  const version = first >>> 28;
  if (version !== LCT_VERSION) throw new LctParseError('bad_version');
  const c = (first >>> 26) & 3;
  const psi = (first >>> 24) & 3;
  const s = (first >>> 23) & 1;
  const o = (first >>> 21) & 3;
  const hBit = (first >>> 20) & 1;
  const closeSession = ((first >>> 17) & 1) === 1;
  const closeObject = ((first >>> 16) & 1) === 1;
  const headerLength = ((first >>> 8) & 0xff) * 4;
  const codepoint = first & 0xff;
  const cciBytes = 4 * (c + 1);
  const tsiBytes = 4 * s + 2 * hBit;
  const toiBytes = 4 * o + 2 * hBit;
  const fixed = 4 + cciBytes + tsiBytes + toiBytes;
  if (headerLength < fixed || headerLength > packet.length)
    throw new LctParseError('bad_header_length');
  if (cciBytes > 4 && readUnsigned(packet, 4, cciBytes - 4) !== 0) {
    throw new LctParseError('unsupported_cci');
  }
  const cci = readUnsigned(packet, 4 + cciBytes - 4, 4);
  if (tsiBytes === 0) throw new LctParseError('missing_tsi');
  const tsi = readUnsigned(packet, 4 + cciBytes, tsiBytes);
  const toiAt = 4 + cciBytes + tsiBytes;
  if (toiBytes > 6 && readUnsigned(packet, toiAt, toiBytes - 6) !== 0) {
    throw new LctParseError('toi_too_large');
  }
  const toi =
    toiBytes === 0
      ? 0
      : readUnsigned(packet, toiAt + Math.max(0, toiBytes - 6), Math.min(6, toiBytes));
  const extensions: HeaderExtension[] = [];
  let at = fixed;
  while (at < headerLength) {
    const type = packet[at];
    let size: number;
    if (type >= 128) {
      size = 4;
      if (at + size > headerLength) throw new LctParseError('bad_extension');
      extensions.push({ type, body: packet.subarray(at + 1, at + 4) });
    } else {
      if (at + 2 > headerLength) throw new LctParseError('bad_extension');
      size = packet[at + 1] * 4;
      if (size === 0 || at + size > headerLength) throw new LctParseError('bad_extension');
      extensions.push({ type, body: packet.subarray(at + 2, at + size) });
    }
    at += size;
  }
  return { psi, cci, tsi, toi, codepoint, closeSession, closeObject, extensions, headerLength };
}

/** EXT_FDT (RFC 6726 3.4.1): HET 192, 4-bit FLUTE version, 20-bit FDT Instance ID. */
export function extFdt(instanceId: number, version = FLUTE_VERSION): HeaderExtension {
  if (!Number.isInteger(instanceId) || instanceId < 0 || instanceId >= 1 << 20) {
    throw new RangeError('FDT Instance ID is 20 bits');
  }
  const word = ((version & 0xf) << 20) | instanceId;
  return {
    type: HET_EXT_FDT,
    body: Uint8Array.of((word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff),
  };
}

export function readExtFdt(ext: HeaderExtension): { version: number; instanceId: number } {
  const word = (ext.body[0] << 16) | (ext.body[1] << 8) | ext.body[2];
  return { version: word >>> 20, instanceId: word & 0xfffff };
}

export function findExtension(header: LctHeader, type: number): HeaderExtension | undefined {
  return header.extensions.find((e) => e.type === type);
}
