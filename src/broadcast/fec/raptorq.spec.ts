import { createHash } from 'node:crypto';
import { FEC_RAPTORQ } from '../flute/oti';
import { K_PRIME_TABLE } from './kprime-table';
import {
  decodeObject,
  encodeRepairSymbols,
  extendedSourceSymbols,
  libraryLayout,
  loadRaptorq,
  raptorq,
  repairIsiToEsi,
  wireEsiToIsi,
  type ReceivedSymbol,
} from './raptorq';

function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** ISI of the first repair packet the wasm library makes for K symbols of T bytes. */
function libraryFirstRepairIsi(k: number, t: number): number {
  const lib = loadRaptorq();
  const enc = lib.Encoder.with_defaults(new Uint8Array(k * t), t);
  try {
    const packets = enc.encode(1);
    expect(packets).toHaveLength(k + 1);
    const p = packets[k];
    return (p[1] << 16) | (p[2] << 8) | p[3];
  } finally {
    enc.free();
  }
}

describe("RaptorQ K' table (RFC 6330 Table 2)", () => {
  it('has the 477 supported block sizes, 10 .. 56403, increasing', () => {
    expect(K_PRIME_TABLE).toHaveLength(477);
    expect(K_PRIME_TABLE[0]).toBe(10);
    expect(K_PRIME_TABLE.at(-1)).toBe(56403);
    for (let i = 1; i < K_PRIME_TABLE.length; i++)
      expect(K_PRIME_TABLE[i]).toBeGreaterThan(K_PRIME_TABLE[i - 1]);
  });

  it("gives K' as the smallest entry >= K", () => {
    expect(extendedSourceSymbols(1)).toBe(10);
    expect(extendedSourceSymbols(10)).toBe(10);
    expect(extendedSourceSymbols(11)).toBe(12);
    expect(extendedSourceSymbols(72)).toBe(75);
    expect(extendedSourceSymbols(2996)).toBe(3015);
    expect(extendedSourceSymbols(56403)).toBe(56403);
    expect(() => extendedSourceSymbols(56404)).toThrow(RangeError);
  });

  it("matches the wasm library's repair numbering (it starts repair ISIs at K') on sampled rows", () => {
    const rows = K_PRIME_TABLE.filter((_, i) => i < 24 || i % 40 === 0).filter((kp) => kp <= 8000);
    for (const kPrime of rows) {
      const index = K_PRIME_TABLE.indexOf(kPrime);
      const smallestK = index === 0 ? 1 : K_PRIME_TABLE[index - 1] + 1;
      expect([smallestK, libraryFirstRepairIsi(smallestK, 64)]).toEqual([smallestK, kPrime]);
      expect([kPrime, libraryFirstRepairIsi(kPrime, 64)]).toEqual([kPrime, kPrime]);
    }
  });
});

describe('RaptorQ layout and the ESI remap', () => {
  it('lays out a 4 MiB object as one block of 1400-byte symbols (Z=1, N=1, Al=8), like the library', () => {
    expect(libraryLayout(4 * 1024 * 1024, 1400)).toEqual({
      fecEncodingId: FEC_RAPTORQ,
      transferLength: 4194304,
      symbolSize: 1400,
      sourceBlocks: 1,
      subBlocks: 1,
      alignment: 8,
    });
    expect(raptorq.sourceSymbols(raptorq.otiFor(4 * 1024 * 1024, 1400))).toBe(2996);
    // 10 MiB would need sub-blocks in the library's layout: refused, objects are cut smaller.
    expect(libraryLayout(10 * 1024 * 1024, 1400).subBlocks).toBe(2);
    expect(() => raptorq.otiFor(10 * 1024 * 1024, 1400)).toThrow(/cut it smaller/);
  });

  it("maps repair ISIs to wire ESIs by K'-K and back", () => {
    // K = 2996, K' = 3015: the library's first repair (ISI 3015) goes out as ESI 2996.
    expect(repairIsiToEsi(3015, 2996)).toBe(2996);
    expect(wireEsiToIsi(2996, 2996)).toBe(3015);
    expect(wireEsiToIsi(2995, 2996)).toBe(2995);
    expect(raptorq.maxRepairEsi(raptorq.otiFor(4 * 1024 * 1024, 1400))).toBe(2 ** 24 - 1 - 19);
  });

  it('decodes from wire ESIs with most source symbols lost, and only with the remap', () => {
    const data = bytes(100_000, 7); // K = 72, K' = 75
    const oti = raptorq.otiFor(data.length, 1400);
    const k = raptorq.sourceSymbols(oti);
    expect([k, extendedSourceSymbols(k)]).toEqual([72, 75]);
    const repairs = encodeRepairSymbols(data, oti, 80);
    const padded = Buffer.alloc(k * 1400);
    data.copy(padded);
    const received: ReceivedSymbol[] = [];
    for (let esi = 0; esi < k; esi += 3)
      received.push({ esi, data: padded.subarray(esi * 1400, (esi + 1) * 1400) });
    for (let j = 0; received.length < k + 2; j++) {
      received.push({ esi: k + j, data: repairs.subarray(j * 1400, (j + 1) * 1400) });
    }
    const decoded = decodeObject(oti, received);
    expect(decoded && createHash('sha256').update(decoded).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
    // Without the remap (repairs fed at ISI = wire ESI) the same symbols do not give the object back.
    const lib = loadRaptorq();
    const dec = lib.Decoder.with_defaults(BigInt(data.length), 1400);
    let wrong: Uint8Array | undefined;
    for (const s of received) {
      const packet = Buffer.alloc(1404);
      packet.writeUInt32BE(s.esi, 0);
      packet.set(s.data, 4);
      wrong = dec.decode(packet) ?? wrong;
    }
    dec.free();
    expect(wrong === undefined || !Buffer.from(wrong).equals(data)).toBe(true);
  });

  it('reports insufficient symbols instead of guessing', () => {
    const data = bytes(50_000, 3);
    const oti = raptorq.otiFor(data.length, 1400);
    const repairs = encodeRepairSymbols(data, oti, 10);
    const k = raptorq.sourceSymbols(oti);
    const few: ReceivedSymbol[] = [];
    for (let j = 0; j < 10; j++)
      few.push({ esi: k + j, data: repairs.subarray(j * 1400, (j + 1) * 1400) });
    expect(k).toBeGreaterThan(10);
    expect(decodeObject(oti, few)).toBeUndefined();
  });
});
