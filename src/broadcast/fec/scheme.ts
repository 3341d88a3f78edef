/**
 * A FEC scheme as FLUTE sees it (RFC 5052 building block): the FEC Encoding ID that travels in
 * the FDT and EXT_FTI, the FEC Payload ID layout, the OTI of an object, and how many source
 * symbols it has. The heavy encode/decode functions run in worker threads (fec-worker.ts).
 */
import type { Oti } from '../flute/oti';

export interface PayloadId {
  sourceBlock: number;
  /** The Encoding Symbol ID as it appears on the wire. */
  esi: number;
}

export interface FecScheme {
  readonly id: number;
  readonly name: string;
  readonly payloadIdLength: number;
  /** Whether the scheme makes repair symbols (Compact No-Code does not). */
  readonly repairs: boolean;
  otiFor(transferLength: number, symbolSize: number): Oti;
  /** K of the (single) source block. */
  sourceSymbols(oti: Oti): number;
  /** Largest wire ESI a repair symbol of this object may carry (-1: none). */
  maxRepairEsi(oti: Oti): number;
  /** Why this implementation cannot decode an object with this OTI, or undefined when it can. */
  unsupported(oti: Oti): string | undefined;
  writePayloadId(buf: Buffer, at: number, id: PayloadId): void;
  readPayloadId(buf: Uint8Array, at: number): PayloadId;
  /** Size of the symbol with this wire ESI (the last source symbol of Compact No-Code is short). */
  symbolLength(oti: Oti, esi: number): number;
}
