/**
 * ALC packets (RFC 5775 4): LCT header, FEC Payload ID, encoding symbol. Building is split so a
 * sender can hand the header and a slice of a cached symbol buffer to the socket without copying.
 */
import { fecSchemeById } from '../fec/schemes';
import type { FecScheme, PayloadId } from '../fec/scheme';
import {
  encodeLctHeader,
  extFdt,
  FDT_TOI,
  findExtension,
  FLUTE_VERSION,
  HET_EXT_FDT,
  HET_EXT_FTI,
  LctParseError,
  parseLctHeader,
  readExtFdt,
  type HeaderExtension,
  type LctHeader,
} from './lct';
import { decodeFti, encodeFti, type Oti } from './oti';

export interface AlcHeaderSpec {
  tsi: number;
  toi: number;
  /** Per-session packet counter carried in CCI, so receivers can measure loss. */
  sequence: number;
  scheme: FecScheme;
  payloadId: PayloadId;
  closeObject?: boolean;
  closeSession?: boolean;
  /** For TOI 0: the FDT Instance ID (adds EXT_FDT). */
  fdtInstanceId?: number;
  /** Adds EXT_FTI with this OTI (always for the FDT). */
  oti?: Oti;
}

/** LCT header + FEC Payload ID; the symbol follows on the wire. Codepoint = FEC Encoding ID. */
export function encodeAlcHeader(spec: AlcHeaderSpec): Buffer {
  const extensions: HeaderExtension[] = [];
  if (spec.fdtInstanceId !== undefined) extensions.push(extFdt(spec.fdtInstanceId));
  if (spec.oti) extensions.push(encodeFti(spec.oti));
  const lct = encodeLctHeader({
    psi: 0,
    cci: spec.sequence >>> 0,
    tsi: spec.tsi,
    toi: spec.toi,
    codepoint: spec.scheme.id,
    closeSession: spec.closeSession ?? false,
    closeObject: spec.closeObject ?? false,
    extensions,
  });
  const out = Buffer.allocUnsafe(lct.length + spec.scheme.payloadIdLength);
  lct.copy(out, 0);
  spec.scheme.writePayloadId(out, lct.length, spec.payloadId);
  return out;
}

export interface AlcPacket {
  lct: LctHeader;
  /** The FEC scheme named by the codepoint (Classcast senders set CP = FEC Encoding ID). */
  scheme: FecScheme;
  payloadId: PayloadId;
  /** From EXT_FTI when present. */
  oti?: Oti;
  /** From EXT_FDT when present. */
  fdt?: { version: number; instanceId: number };
  symbol: Uint8Array;
}

export class AlcParseError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Parses and checks everything the packet says about itself; throws AlcParseError otherwise. */
export function parseAlcPacket(datagram: Uint8Array): AlcPacket {
  let lct: LctHeader;
  try {
    lct = parseLctHeader(datagram);
  } catch (e) {
    if (e instanceof LctParseError) throw new AlcParseError(e.reason);
    throw e;
  }
  const scheme = fecSchemeById(lct.codepoint);
  if (!scheme) throw new AlcParseError('unknown_fec_scheme');
  const payloadAt = lct.headerLength;
  if (datagram.length < payloadAt + scheme.payloadIdLength + 1)
    throw new AlcParseError('no_symbol');
  const payloadId = scheme.readPayloadId(datagram, payloadAt);
  let oti: Oti | undefined;
  const fti = findExtension(lct, HET_EXT_FTI);
  if (fti) {
    try {
      oti = decodeFti(scheme.id, fti);
    } catch {
      throw new AlcParseError('bad_fti');
    }
  }
  let fdt: AlcPacket['fdt'];
  const fdtExt = findExtension(lct, HET_EXT_FDT);
  if (fdtExt) fdt = readExtFdt(fdtExt);
  if (lct.toi === FDT_TOI) {
    if (!fdt) throw new AlcParseError('fdt_without_ext_fdt');
    if (fdt.version !== FLUTE_VERSION) throw new AlcParseError('unsupported_flute_version');
    if (!oti) throw new AlcParseError('fdt_without_ext_fti');
  }
  return {
    lct,
    scheme,
    payloadId,
    oti,
    fdt,
    symbol: datagram.subarray(payloadAt + scheme.payloadIdLength),
  };
}
