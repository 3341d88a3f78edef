import { createHash, randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const CHUNK = 1024 * 1024;

/**
 * What the API's sniffer needs to call the file an MP4 video: an `ftyp` box with major brand
 * `isom`, then (for realism) an `mdat` box with a 64-bit size covering the rest.
 */
function mp4Header(totalBytes: number): Buffer {
  const ftyp = Buffer.concat([
    Buffer.from([0, 0, 0, 0x18]),
    Buffer.from('ftypisom', 'latin1'),
    Buffer.from([0, 0, 2, 0]),
    Buffer.from('isommp41', 'latin1'),
  ]);
  const mdat = Buffer.alloc(16);
  mdat.writeUInt32BE(1, 0);
  mdat.write('mdat', 4, 'latin1');
  mdat.writeBigUInt64BE(BigInt(totalBytes - ftyp.length), 8);
  return Buffer.concat([ftyp, mdat]);
}

/** Pseudo-random bytes (incompressible) one chunk at a time, never the whole file in memory. */
function* mp4Chunks(totalBytes: number, hash: ReturnType<typeof createHash>): Generator<Buffer> {
  let written = 0;
  while (written < totalBytes) {
    const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(CHUNK, totalBytes - written)));
    if (written === 0) mp4Header(totalBytes).copy(chunk, 0);
    hash.update(chunk);
    written += chunk.length;
    yield chunk;
  }
}

/** Writes a `totalBytes` long sample .mp4 to `path`; returns its sha256 (hex). */
export async function writeSampleVideo(path: string, totalBytes: number): Promise<string> {
  if (totalBytes < CHUNK) throw new Error('the sample video must be at least 1 MB');
  const hash = createHash('sha256');
  await pipeline(
    Readable.from(mp4Chunks(totalBytes, hash)),
    createWriteStream(path, { flags: 'wx' }),
  );
  return hash.digest('hex');
}
