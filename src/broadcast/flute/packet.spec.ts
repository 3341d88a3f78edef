/**
 * Golden packets written out by hand from the RFC figures (RFC 5651 5.1 LCT header, RFC 6726
 * 3.4.1 EXT_FDT, RFC 5775 5.2 EXT_FTI, RFC 5445 / RFC 6330 3.2 FEC Payload IDs), so the byte
 * layout cannot drift with the code that produces it.
 */
import { compactNoCode } from '../fec/compact-no-code';
import { raptorq } from '../fec/raptorq';
import { encodeLctHeader, parseLctHeader } from './lct';
import { FEC_COMPACT_NO_CODE, FEC_RAPTORQ } from './oti';
import { AlcParseError, encodeAlcHeader, parseAlcPacket } from './packet';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('ALC/LCT golden packets', () => {
  it('FDT packet: LCT v1, 32-bit CCI/TSI/TOI, EXT_FDT (FLUTE v2), EXT_FTI for Compact No-Code', () => {
    const header = encodeAlcHeader({
      tsi: 0x01020304,
      toi: 0,
      sequence: 5,
      scheme: compactNoCode,
      payloadId: { sourceBlock: 0, esi: 0 },
      fdtInstanceId: 0x12345,
      oti: {
        fecEncodingId: FEC_COMPACT_NO_CODE,
        transferLength: 300,
        symbolSize: 1400,
        maxSourceBlockLength: 1,
      },
    });
    expect(header).toEqual(
      hex(`
        10 A0 09 00
        00 00 00 05
        01 02 03 04
        00 00 00 00
        C0 21 23 45
        40 04 00 00 00 00 01 2C 00 00 05 78 00 00 00 01
        00 00 00 00`),
    );
    const packet = parseAlcPacket(Buffer.concat([header, Buffer.alloc(300, 7)]));
    expect(packet.lct).toMatchObject({
      tsi: 0x01020304,
      toi: 0,
      cci: 5,
      codepoint: 0,
      closeSession: false,
    });
    expect(packet.fdt).toEqual({ version: 2, instanceId: 0x12345 });
    expect(packet.oti).toEqual({
      fecEncodingId: 0,
      transferLength: 300,
      symbolSize: 1400,
      maxSourceBlockLength: 1,
    });
    expect(packet.symbol.length).toBe(300);
  });

  it('RaptorQ packet: codepoint 6, B flag, EXT_FTI with F(40) T(16) Z N Al, SBN(8)+ESI(24)', () => {
    // First repair symbol of a 4 MiB object: K = 2996, K' = 3015; the wire ESI is K (2996 = 0xBB4).
    const header = encodeAlcHeader({
      tsi: 7,
      toi: 3,
      sequence: 0x01020304,
      scheme: raptorq,
      payloadId: { sourceBlock: 0, esi: 2996 },
      closeObject: true,
      oti: {
        fecEncodingId: FEC_RAPTORQ,
        transferLength: 4194304,
        symbolSize: 1400,
        sourceBlocks: 1,
        subBlocks: 1,
        alignment: 8,
      },
    });
    expect(header).toEqual(
      hex(`
        10 A1 08 06
        01 02 03 04
        00 00 00 07
        00 00 00 03
        40 04 00 00 40 00 00 00 05 78 01 00 01 08 00 00
        00 00 0B B4`),
    );
    const packet = parseAlcPacket(Buffer.concat([header, Buffer.alloc(1400)]));
    expect(packet.payloadId).toEqual({ sourceBlock: 0, esi: 2996 });
    expect(packet.lct.closeObject).toBe(true);
    expect(packet.oti).toEqual({
      fecEncodingId: 6,
      transferLength: 4194304,
      symbolSize: 1400,
      sourceBlocks: 1,
      subBlocks: 1,
      alignment: 8,
    });
  });

  it('reads headers with 16-bit TSI/TOI (H=1) and a 64-bit CCI from other senders', () => {
    // V=1 C=1 PSI=0 S=0 O=0 H=1, HDR_LEN = 4 + 8 + 2 + 2 = 16 bytes = 4 words, CP=6.
    const packet = hex(`14 10 04 06  00 00 00 00 00 00 00 09  00 2A  00 05  00 00 00 01`);
    const lct = parseLctHeader(packet);
    expect(lct).toMatchObject({ cci: 9, tsi: 42, toi: 5, headerLength: 16, codepoint: 6 });
  });

  it.each([
    ['empty', ''],
    ['version 2', '20 A0 04 06 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00 AA'],
    ['HDR_LEN beyond the datagram', '10 A0 40 06 00 00 00 00 00 00 00 01 00 00 00 01'],
    ['HDR_LEN shorter than the fixed part', '10 A0 02 06 00 00 00 00 00 00 00 01 00 00 00 01'],
    [
      'zero-length variable extension',
      '10 A0 05 06 00 00 00 00 00 00 00 01 00 00 00 01 40 00 00 00 00 00 00 00 AA',
    ],
    ['unknown FEC codepoint', '10 A0 04 63 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00 AA'],
    ['no symbol', '10 A0 04 06 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00'],
    ['FDT without EXT_FDT', '10 A0 04 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 AA'],
  ])('refuses a malformed datagram: %s', (_name, bytes) => {
    expect(() => parseAlcPacket(hex(bytes))).toThrow(AlcParseError);
  });

  it('round-trips every field it writes', () => {
    const header = encodeLctHeader({
      psi: 2,
      cci: 0xffffffff,
      tsi: 0xfffffffe,
      toi: 0x80000001,
      codepoint: 6,
      closeSession: true,
      closeObject: false,
      extensions: [],
    });
    expect(parseLctHeader(header)).toMatchObject({
      psi: 2,
      cci: 0xffffffff,
      tsi: 0xfffffffe,
      toi: 0x80000001,
      closeSession: true,
      closeObject: false,
    });
  });
});
