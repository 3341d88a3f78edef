/** Messages between FecWorkerPool and fec-worker (structured-clone friendly). */
import type { Oti } from '../flute/oti';

/** The bytes of one transport object: a region of a file, or bytes in memory. */
export type ObjectSource = { path: string; offset: number; length: number } | { bytes: Uint8Array };

export interface EncodeRequest {
  type: 'encode';
  source: ObjectSource;
  oti: Oti;
  /** Repair symbols to pre-generate (0 for Compact No-Code). */
  repairCount: number;
  /** Where the repair symbols go (count * T bytes), written to a temporary name and renamed. */
  repairPath?: string;
}
export interface EncodeResult {
  md5: string;
  sha256: string;
  sourceSymbols: number;
  extendedSourceSymbols: number;
  encodeMs: number;
}

export interface DecodeRequest {
  type: 'decode';
  oti: Oti;
  /** Symbol log written by the receiver (records: u32 ESI, u32 length, bytes). */
  symbolLog: string;
  /** Read only this many bytes of the log (what the receiver had written when it asked). */
  logBytes?: number;
  outPath: string;
  md5?: string;
  sha256?: string;
}
export interface DecodeResult {
  status: 'decoded' | 'insufficient' | 'corrupt';
  /** Distinct symbols in the log. */
  symbols: number;
  /** Whether RaptorQ decoding ran (false: every source symbol had arrived). */
  decoded: boolean;
  decodeMs: number;
}

export interface AssembleRequest {
  type: 'assemble';
  parts: string[];
  outPath: string;
  length: number;
  sha256: string;
}
export interface AssembleResult {
  status: 'ok' | 'corrupt';
}

export type WorkerRequest = EncodeRequest | DecodeRequest | AssembleRequest;

interface ResultMap {
  encode: EncodeResult;
  decode: DecodeResult;
  assemble: AssembleResult;
}
export type WorkerResult<T extends WorkerRequest['type']> = ResultMap[T];

export type WorkerResponse =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
