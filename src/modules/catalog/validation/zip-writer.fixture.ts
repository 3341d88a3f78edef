import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { AppError } from '../../../common/errors/app-error';

/**
 * Test-only ZIP writer. It can lie (declared sizes, shared data, flags) in ways real tools
 * refuse to, which is exactly what the zip checks must be tested against. Node 20 has no
 * zlib.crc32, hence the table below.
 */
export interface FixtureEntry {
  name: string;
  data?: Buffer;
  /** 0 = stored, 8 = deflated (default), anything else is written as is. */
  method?: number;
  /** Bytes written as the entry's compressed data instead of compressing `data`. */
  rawData?: Buffer;
  /** Uncompressed size written in the headers instead of the real one. */
  declaredSize?: number;
  /** General purpose bits added to the UTF-8 flag (bit 0 = encrypted). */
  flags?: number;
  externalAttributes?: number;
  versionMadeBy?: number;
  /** Index of an earlier entry whose local header and data this record points at. */
  sharesDataWith?: number;
}

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

interface Written {
  offset: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  method: number;
  flags: number;
}

export function buildZip(entries: FixtureEntry[]): Buffer {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  const written: Written[] = [];
  let offset = 0;

  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    let record: Written;
    if (entry.sharesDataWith !== undefined) {
      record = written[entry.sharesDataWith];
    } else {
      const data = entry.data ?? Buffer.alloc(0);
      const method = entry.method ?? 8;
      const body = entry.rawData ?? (method === 8 ? deflateRawSync(data) : data);
      record = {
        offset,
        crc: crc32(data),
        compressedSize: body.length,
        uncompressedSize: entry.declaredSize ?? data.length,
        method,
        flags: 0x800 | (entry.flags ?? 0),
      };
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(record.flags, 6);
      local.writeUInt16LE(method, 8);
      local.writeUInt32LE(record.crc, 14);
      local.writeUInt32LE(record.compressedSize, 18);
      local.writeUInt32LE(record.uncompressedSize, 22);
      local.writeUInt16LE(name.length, 26);
      chunks.push(local, name, body);
      offset += local.length + name.length + body.length;
    }
    written.push(record);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(entry.versionMadeBy ?? 20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(record.flags, 8);
    header.writeUInt16LE(record.method, 10);
    header.writeUInt32LE(record.crc, 16);
    header.writeUInt32LE(record.compressedSize, 20);
    header.writeUInt32LE(record.uncompressedSize, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE(entry.externalAttributes ?? 0, 38);
    header.writeUInt32LE(record.offset, 42);
    central.push(header, name);
  }

  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...chunks, directory, end]);
}

/** A temporary folder of numbered zip files, removed as a whole after the suite. */
export class ZipScratch {
  private counter = 0;

  private constructor(readonly dir: string) {}

  static async create(): Promise<ZipScratch> {
    return new ZipScratch(await mkdtemp(join(tmpdir(), 'classcast-zip-')));
  }

  async write(content: FixtureEntry[] | Buffer): Promise<string> {
    const path = join(this.dir, `${this.counter++}.zip`);
    await writeFile(path, Buffer.isBuffer(content) ? content : buildZip(content));
    return path;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The AppError a promise rejects with; anything else (or success) fails the test. */
export async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}
