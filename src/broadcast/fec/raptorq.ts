/**
 * RaptorQ (FEC Encoding ID 6, RFC 6330) through the npm `raptorq` 1.7.24 wasm build.
 *
 * That build picks the block layout itself (ObjectTransmissionInformation::with_defaults: Al = 8,
 * decoder memory 10 MiB) and numbers repair symbols by their internal symbol id ISI = K' + i
 * instead of the ESI = K + i of RFC 6330 5.3.1 (fixed upstream only in 2.0). So Classcast:
 * - keeps every object to one source block (at most 4 MiB with 1400-byte symbols),
 * - writes the OTI itself, computed the way the library lays the object out, and refuses OTIs the
 *   library would lay out differently,
 * - sends ESI = ISI - (K' - K) for repair symbols and adds K' - K back before decoding.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FEC_RAPTORQ, OtiError, type Oti, type RaptorqOti } from '../flute/oti';
import { K_PRIME_TABLE } from './kprime-table';
import type { FecScheme, PayloadId } from './scheme';

export const RAPTORQ_ALIGNMENT = 8;
const LIBRARY_DECODER_MEMORY = 10 * 1024 * 1024;
const SUB_SYMBOL_SIZE = 8;
export const MAX_SOURCE_SYMBOLS = 56403;
const MAX_ESI = 2 ** 24 - 1;

/** K': the smallest K' in RFC 6330 Table 2 with K' >= K (RFC 6330 5.3.1). */
export function extendedSourceSymbols(k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > MAX_SOURCE_SYMBOLS)
    throw new RangeError(`K out of range: ${k}`);
  let lo = 0;
  let hi = K_PRIME_TABLE.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (K_PRIME_TABLE[mid] >= k) hi = mid;
    else lo = mid + 1;
  }
  return K_PRIME_TABLE[lo];
}

/** Wire ESI of a repair symbol the library numbered by its ISI. */
export function repairIsiToEsi(isi: number, k: number): number {
  return isi - (extendedSourceSymbols(k) - k);
}

/** The library's numbering (ISI) of a symbol received with this wire ESI. */
export function wireEsiToIsi(esi: number, k: number): number {
  return esi < k ? esi : esi + (extendedSourceSymbols(k) - k);
}

/** The layout the library's with_defaults(F, T) chooses (Z source blocks, N sub-blocks). */
export function libraryLayout(transferLength: number, maxPacketSize: number): RaptorqOti {
  const al = RAPTORQ_ALIGNMENT;
  const t = maxPacketSize - (maxPacketSize % al);
  const kt = Math.ceil(transferLength / t);
  const nMax = Math.floor(t / (SUB_SYMBOL_SIZE * al));
  const kl = (n: number): number => {
    const x = Math.ceil(t / (al * n));
    const limit = Math.floor(LIBRARY_DECODER_MEMORY / (al * x));
    for (let i = K_PRIME_TABLE.length - 1; i >= 0; i--)
      if (K_PRIME_TABLE[i] <= limit) return K_PRIME_TABLE[i];
    throw new OtiError('symbol size too large');
  };
  const z = Math.ceil(kt / kl(nMax));
  let n = 1;
  for (let i = 1; i <= nMax; i++) {
    n = i;
    if (Math.ceil(kt / z) <= kl(n)) break;
  }
  return {
    fecEncodingId: FEC_RAPTORQ,
    transferLength,
    symbolSize: t,
    sourceBlocks: z,
    subBlocks: n,
    alignment: al,
  };
}

function asRaptorq(oti: Oti): RaptorqOti {
  if (oti.fecEncodingId !== FEC_RAPTORQ) throw new OtiError('not a RaptorQ OTI');
  return oti;
}

export interface RaptorqScheme extends FecScheme {
  otiFor(transferLength: number, symbolSize: number): RaptorqOti;
}

export const raptorq: RaptorqScheme = {
  id: FEC_RAPTORQ,
  name: 'raptorq',
  payloadIdLength: 4,
  repairs: true,
  otiFor(transferLength: number, symbolSize: number): RaptorqOti {
    if (transferLength < 1) throw new OtiError('RaptorQ objects are not empty');
    if (symbolSize % RAPTORQ_ALIGNMENT !== 0)
      throw new OtiError(`symbol size must be a multiple of ${RAPTORQ_ALIGNMENT}`);
    const oti = libraryLayout(transferLength, symbolSize);
    if (oti.sourceBlocks !== 1 || oti.subBlocks !== 1) {
      throw new OtiError('object too large for one RaptorQ source block: cut it smaller');
    }
    return oti;
  },
  sourceSymbols(oti: Oti): number {
    const o = asRaptorq(oti);
    return Math.ceil(o.transferLength / o.symbolSize);
  },
  maxRepairEsi(oti: Oti): number {
    const k = this.sourceSymbols(oti);
    return MAX_ESI - (extendedSourceSymbols(k) - k);
  },
  unsupported(oti: Oti): string | undefined {
    const o = asRaptorq(oti);
    if (o.sourceBlocks !== 1 || o.subBlocks !== 1)
      return 'only single-block RaptorQ objects are decoded';
    const lib = libraryLayout(o.transferLength, o.symbolSize);
    if (lib.symbolSize !== o.symbolSize || lib.sourceBlocks !== 1 || lib.subBlocks !== 1) {
      return 'layout differs from the decoder library';
    }
    return undefined;
  },
  writePayloadId(buf: Buffer, at: number, id: PayloadId): void {
    if (id.sourceBlock < 0 || id.sourceBlock > 255 || id.esi < 0 || id.esi > MAX_ESI) {
      throw new RangeError('RaptorQ payload ID is SBN 8 bits, ESI 24 bits');
    }
    buf.writeUInt32BE(((id.sourceBlock << 24) | id.esi) >>> 0, at);
  },
  readPayloadId(buf: Uint8Array, at: number): PayloadId {
    return { sourceBlock: buf[at], esi: (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3] };
  },
  symbolLength(oti: Oti): number {
    return asRaptorq(oti).symbolSize;
  },
};

/** The subset of the wasm module Classcast uses. */
export interface RaptorqWasm {
  Encoder: {
    with_defaults(
      data: Uint8Array,
      mtu: number,
    ): { encode(repairPerBlock: number): Uint8Array[]; free(): void };
  };
  Decoder: {
    with_defaults(
      transferLength: bigint,
      mtu: number,
    ): { decode(packet: Uint8Array): Uint8Array | undefined; free(): void };
  };
  initSync(module: Uint8Array): unknown;
}

let loaded: RaptorqWasm | undefined;

/**
 * Loads the wasm build once per thread. createRequire goes through Node's own loader (the
 * package is an ES module that Node 20.19+/22 can require), also when Jest runs the caller.
 */
export function loadRaptorq(): RaptorqWasm {
  if (loaded) return loaded;
  // Node's own module loader even when a test runner wraps `require` (Jest cannot load ES modules
  // from node_modules through its registry).
  const nodeModule = (process.getBuiltinModule?.('node:module') ?? { createRequire }) as {
    createRequire: typeof createRequire;
  };
  const req = nodeModule.createRequire(__filename);
  const mod = req('raptorq/raptorq.js') as RaptorqWasm;
  const wasmPath = join(dirname(req.resolve('raptorq/raptorq.js')), 'raptorq_bg.wasm');
  mod.initSync(readFileSync(wasmPath));
  loaded = mod;
  return mod;
}

/**
 * Repair symbols firstRepair .. firstRepair+count-1 (0-based repair index) of one object, as one
 * buffer of count * T bytes. The library can only produce repairs from the first one, so it makes
 * firstRepair + count and the caller caches them (sender.ts computes them once per object).
 */
export function encodeRepairSymbols(data: Uint8Array, oti: RaptorqOti, count: number): Buffer {
  const lib = loadRaptorq();
  const k = Math.ceil(oti.transferLength / oti.symbolSize);
  if (data.length !== oti.transferLength) throw new RangeError('data length differs from the OTI');
  const encoder = lib.Encoder.with_defaults(data, oti.symbolSize);
  try {
    const packets = encoder.encode(count);
    if (packets.length !== k + count)
      throw new Error(`raptorq produced ${packets.length} packets, expected ${k + count}`);
    const out = Buffer.allocUnsafe(count * oti.symbolSize);
    const kPrime = extendedSourceSymbols(k);
    for (let i = 0; i < count; i++) {
      const p = packets[k + i];
      const isi = (p[1] << 16) | (p[2] << 8) | p[3];
      // Pinned by raptorq.spec.ts: the library numbers repair symbols from K'.
      if (p[0] !== 0 || isi !== kPrime + i)
        throw new Error(`unexpected repair numbering ${isi} (K'=${kPrime})`);
      out.set(p.subarray(4), i * oti.symbolSize);
    }
    return out;
  } finally {
    encoder.free();
  }
}

/** One received symbol: its wire ESI and T bytes. */
export interface ReceivedSymbol {
  esi: number;
  data: Uint8Array;
}

/**
 * Decodes one single-block object from received symbols (wire ESIs), or undefined when they do
 * not suffice yet (RFC 6330 decoding fails at exactly K symbols about 0.4 % of the time).
 */
export function decodeObject(
  oti: RaptorqOti,
  symbols: Iterable<ReceivedSymbol>,
): Buffer | undefined {
  const lib = loadRaptorq();
  const k = Math.ceil(oti.transferLength / oti.symbolSize);
  const decoder = lib.Decoder.with_defaults(BigInt(oti.transferLength), oti.symbolSize);
  try {
    const packet = Buffer.allocUnsafe(4 + oti.symbolSize);
    for (const s of symbols) {
      const isi = wireEsiToIsi(s.esi, k);
      packet.writeUInt32BE(isi, 0);
      packet.set(s.data, 4);
      const out = decoder.decode(packet);
      if (out) return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    }
    return undefined;
  } finally {
    decoder.free();
  }
}
