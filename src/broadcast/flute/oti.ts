/**
 * FEC Object Transmission Information: how a receiver learns the layout of an object, both in the
 * EXT_FTI header extension (RFC 5775 5.2.1) and in the FDT File attributes (RFC 6726 3.4.2).
 */
import { HET_EXT_FTI, type HeaderExtension } from './lct';

export const FEC_COMPACT_NO_CODE = 0;
export const FEC_RAPTORQ = 6;

/** RFC 6330 3.3.2 (common: F 40 bits, T 16 bits) and 3.3.3 (scheme-specific: Z, N, Al). */
export interface RaptorqOti {
  fecEncodingId: typeof FEC_RAPTORQ;
  transferLength: number;
  symbolSize: number;
  sourceBlocks: number;
  subBlocks: number;
  alignment: number;
}

/** RFC 5445 (Compact No-Code): Transfer-Length, Encoding-Symbol-Length, Maximum-Source-Block-Length. */
export interface NoCodeOti {
  fecEncodingId: typeof FEC_COMPACT_NO_CODE;
  transferLength: number;
  symbolSize: number;
  maxSourceBlockLength: number;
}

export type Oti = RaptorqOti | NoCodeOti;

export class OtiError extends Error {}

const MAX_F_RAPTORQ = 946_270_874_880; // RFC 6330 4.1: F <= 946270874880
const MAX_TL_NO_CODE = 2 ** 48 - 1;

export function validateOti(oti: Oti): void {
  const t = oti.symbolSize;
  if (!Number.isInteger(t) || t < 1 || t > 0xffff)
    throw new OtiError('symbol size must be 1..65535');
  if (!Number.isInteger(oti.transferLength) || oti.transferLength < 0) {
    throw new OtiError('transfer length must be a non-negative integer');
  }
  switch (oti.fecEncodingId) {
    case FEC_RAPTORQ:
      if (oti.transferLength > MAX_F_RAPTORQ)
        throw new OtiError('transfer length too large for RaptorQ');
      if (oti.transferLength === 0) throw new OtiError('RaptorQ objects are not empty');
      if (!Number.isInteger(oti.alignment) || oti.alignment < 1 || t % oti.alignment !== 0) {
        throw new OtiError('symbol size must be a multiple of Al');
      }
      if (!Number.isInteger(oti.sourceBlocks) || oti.sourceBlocks < 1 || oti.sourceBlocks > 255) {
        throw new OtiError('Z must be 1..255');
      }
      if (!Number.isInteger(oti.subBlocks) || oti.subBlocks < 1 || oti.subBlocks > 0xffff) {
        throw new OtiError('N must be 1..65535');
      }
      return;
    case FEC_COMPACT_NO_CODE:
      if (oti.transferLength > MAX_TL_NO_CODE) throw new OtiError('transfer length too large');
      if (
        !Number.isInteger(oti.maxSourceBlockLength) ||
        oti.maxSourceBlockLength < 1 ||
        oti.maxSourceBlockLength > 0xffffffff
      ) {
        throw new OtiError('maximum source block length must be 1..2^32-1');
      }
      return;
  }
}

function writeUint40(buf: Buffer, value: number, at: number): void {
  buf.writeUInt8(Math.floor(value / 2 ** 32), at);
  buf.writeUInt32BE(value % 2 ** 32, at + 1);
}

/**
 * EXT_FTI, HET 64, HEL 4 (16 bytes) for both schemes:
 * - ID 6: F (40) | Reserved (8) | T (16) | Z (8) | N (16) | Al (8) | padding (16)
 * - ID 0: Transfer Length (48) | Reserved (16) | Encoding Symbol Length (16) | Max Source Block Length (32)
 */
export function encodeFti(oti: Oti): HeaderExtension {
  validateOti(oti);
  const body = Buffer.alloc(14);
  switch (oti.fecEncodingId) {
    case FEC_RAPTORQ:
      writeUint40(body, oti.transferLength, 0);
      body.writeUInt8(0, 5);
      body.writeUInt16BE(oti.symbolSize, 6);
      body.writeUInt8(oti.sourceBlocks, 8);
      body.writeUInt16BE(oti.subBlocks, 9);
      body.writeUInt8(oti.alignment, 11);
      break;
    case FEC_COMPACT_NO_CODE:
      body.writeUIntBE(oti.transferLength, 0, 6);
      body.writeUInt16BE(0, 6);
      body.writeUInt16BE(oti.symbolSize, 8);
      body.writeUInt32BE(oti.maxSourceBlockLength, 10);
      break;
  }
  return { type: HET_EXT_FTI, body };
}

export function decodeFti(fecEncodingId: number, ext: HeaderExtension): Oti {
  if (ext.type !== HET_EXT_FTI) throw new OtiError('not an EXT_FTI');
  if (ext.body.length !== 14) throw new OtiError('EXT_FTI must be 16 bytes');
  const b = Buffer.from(ext.body.buffer, ext.body.byteOffset, ext.body.byteLength);
  let oti: Oti;
  if (fecEncodingId === FEC_RAPTORQ) {
    oti = {
      fecEncodingId: FEC_RAPTORQ,
      transferLength: b.readUInt8(0) * 2 ** 32 + b.readUInt32BE(1),
      symbolSize: b.readUInt16BE(6),
      sourceBlocks: b.readUInt8(8),
      subBlocks: b.readUInt16BE(9),
      alignment: b.readUInt8(11),
    };
  } else if (fecEncodingId === FEC_COMPACT_NO_CODE) {
    oti = {
      fecEncodingId: FEC_COMPACT_NO_CODE,
      transferLength: b.readUIntBE(0, 6),
      symbolSize: b.readUInt16BE(8),
      maxSourceBlockLength: b.readUInt32BE(10),
    };
  } else {
    throw new OtiError(`unsupported FEC Encoding ID ${fecEncodingId}`);
  }
  validateOti(oti);
  return oti;
}

/** FDT File (or FDT-Instance) attributes carrying the OTI (RFC 6726 3.4.2). */
export function otiToFdtAttributes(oti: Oti): Record<string, string> {
  validateOti(oti);
  const attrs: Record<string, string> = {
    'Transfer-Length': String(oti.transferLength),
    'FEC-OTI-FEC-Encoding-ID': String(oti.fecEncodingId),
    'FEC-OTI-Encoding-Symbol-Length': String(oti.symbolSize),
  };
  switch (oti.fecEncodingId) {
    case FEC_RAPTORQ: {
      const ssi = Buffer.alloc(4);
      ssi.writeUInt8(oti.sourceBlocks, 0);
      ssi.writeUInt16BE(oti.subBlocks, 1);
      ssi.writeUInt8(oti.alignment, 3);
      attrs['FEC-OTI-Scheme-Specific-Info'] = ssi.toString('base64');
      break;
    }
    case FEC_COMPACT_NO_CODE:
      attrs['FEC-OTI-Maximum-Source-Block-Length'] = String(oti.maxSourceBlockLength);
      break;
  }
  return attrs;
}

function intAttr(attrs: Record<string, string>, name: string): number | undefined {
  const raw = attrs[name];
  if (raw === undefined) return undefined;
  if (!/^\d{1,16}$/.test(raw)) throw new OtiError(`${name} is not an unsigned integer`);
  return Number(raw);
}

/** The OTI of a File entry; `undefined` when it carries none (then EXT_FTI must supply it). */
export function otiFromFdtAttributes(attrs: Record<string, string>): Oti | undefined {
  const id = intAttr(attrs, 'FEC-OTI-FEC-Encoding-ID');
  const t = intAttr(attrs, 'FEC-OTI-Encoding-Symbol-Length');
  const length = intAttr(attrs, 'Transfer-Length') ?? intAttr(attrs, 'Content-Length');
  if (id === undefined || t === undefined || length === undefined) return undefined;
  let oti: Oti;
  if (id === FEC_RAPTORQ) {
    const ssi = Buffer.from(attrs['FEC-OTI-Scheme-Specific-Info'] ?? '', 'base64');
    if (ssi.length !== 4)
      throw new OtiError('FEC-OTI-Scheme-Specific-Info must be 4 bytes for RaptorQ');
    oti = {
      fecEncodingId: FEC_RAPTORQ,
      transferLength: length,
      symbolSize: t,
      sourceBlocks: ssi.readUInt8(0),
      subBlocks: ssi.readUInt16BE(1),
      alignment: ssi.readUInt8(3),
    };
  } else if (id === FEC_COMPACT_NO_CODE) {
    const msbl = intAttr(attrs, 'FEC-OTI-Maximum-Source-Block-Length');
    if (msbl === undefined) throw new OtiError('FEC-OTI-Maximum-Source-Block-Length missing');
    oti = {
      fecEncodingId: FEC_COMPACT_NO_CODE,
      transferLength: length,
      symbolSize: t,
      maxSourceBlockLength: msbl,
    };
  } else {
    throw new OtiError(`unsupported FEC Encoding ID ${id}`);
  }
  validateOti(oti);
  return oti;
}

export function sameOti(a: Oti, b: Oti): boolean {
  return JSON.stringify(otiToFdtAttributes(a)) === JSON.stringify(otiToFdtAttributes(b));
}
