/**
 * Compact No-Code FEC (FEC Encoding ID 0, RFC 5445): source symbols only, 16-bit SBN and ESI.
 * The fallback for deployers who do not want RaptorQ: the carousel then repeats every source
 * symbol each cycle, and a receiver completes an object once it has caught each symbol once.
 */
import { FEC_COMPACT_NO_CODE, OtiError, type NoCodeOti, type Oti } from '../flute/oti';
import type { FecScheme, PayloadId } from './scheme';

function asNoCode(oti: Oti): NoCodeOti {
  if (oti.fecEncodingId !== FEC_COMPACT_NO_CODE) throw new OtiError('not a Compact No-Code OTI');
  return oti;
}

export const compactNoCode: FecScheme = {
  id: FEC_COMPACT_NO_CODE,
  name: 'compact-no-code',
  payloadIdLength: 4,
  repairs: false,
  otiFor(transferLength: number, symbolSize: number): NoCodeOti {
    const k = Math.max(1, Math.ceil(transferLength / symbolSize));
    if (k > 0xffff)
      throw new OtiError(
        'object needs more than 65535 symbols: use larger symbols or smaller objects',
      );
    return {
      fecEncodingId: FEC_COMPACT_NO_CODE,
      transferLength,
      symbolSize,
      maxSourceBlockLength: k,
    };
  },
  sourceSymbols(oti: Oti): number {
    const o = asNoCode(oti);
    return Math.max(1, Math.ceil(o.transferLength / o.symbolSize));
  },
  maxRepairEsi(): number {
    return -1;
  },
  unsupported(oti: Oti): string | undefined {
    const o = asNoCode(oti);
    const k = Math.ceil(o.transferLength / o.symbolSize);
    if (k > o.maxSourceBlockLength || k > 0xffff) return 'more than one source block';
    return undefined;
  },
  writePayloadId(buf: Buffer, at: number, id: PayloadId): void {
    buf.writeUInt16BE(id.sourceBlock, at);
    buf.writeUInt16BE(id.esi, at + 2);
  },
  readPayloadId(buf: Uint8Array, at: number): PayloadId {
    return { sourceBlock: (buf[at] << 8) | buf[at + 1], esi: (buf[at + 2] << 8) | buf[at + 3] };
  },
  symbolLength(oti: Oti, esi: number): number {
    const o = asNoCode(oti);
    const k = Math.max(1, Math.ceil(o.transferLength / o.symbolSize));
    if (esi === k - 1) return o.transferLength - (k - 1) * o.symbolSize || o.symbolSize;
    return o.symbolSize;
  },
};
