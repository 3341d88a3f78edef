/**
 * What a carousel carries: files cut into transport objects of at most 4 MiB (one TOI each, one
 * RaptorQ source block each), and the repair overhead each object gets for the expected loss.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FilePart } from './flute/fdt';
import type { ObjectSource } from './fec/worker-protocol';

export const MAX_OBJECT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_SYMBOL_SIZE = 1400;

/** One transport object of a carousel. */
export interface CarouselObject {
  /** 1 .. 2^32-1 (0 is the FDT). */
  toi: number;
  source: ObjectSource;
  /** FDT Content-Location (a URI); for a part of a larger file `<file>.part-<i>-of-<n>`. */
  contentLocation: string;
  contentType?: string;
  /** Base64 MD5 (Content-MD5) and hex SHA-256 of the object: computed while encoding when absent. */
  md5?: string;
  sha256?: string;
  /** Set when the object is one part of a larger file. */
  part?: FilePart;
}

/** A file to broadcast, before it is cut into objects. */
export interface BroadcastFile {
  contentLocation: string;
  contentType?: string;
  source: { path: string } | { bytes: Uint8Array };
  /** Hex SHA-256 of the whole file; computed (streamed) when absent. */
  sha256?: string;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Cuts files into objects of at most maxObjectBytes, numbering TOIs from firstToi. A file that
 * fits in one object keeps its Content-Location; a larger one becomes parts that name the file,
 * its length and SHA-256 (Classcast FDT attributes), so a receiver can put it back together.
 */
export async function cutFiles(
  files: BroadcastFile[],
  options: { firstToi?: number; maxObjectBytes?: number } = {},
): Promise<CarouselObject[]> {
  const maxBytes = options.maxObjectBytes ?? MAX_OBJECT_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_OBJECT_BYTES) {
    throw new RangeError(`objects are 1 .. ${MAX_OBJECT_BYTES} bytes`);
  }
  let toi = options.firstToi ?? 1;
  const objects: CarouselObject[] = [];
  const locations = new Set<string>();
  for (const file of files) {
    if (locations.has(file.contentLocation))
      throw new Error(`${file.contentLocation} listed twice`);
    locations.add(file.contentLocation);
    const length =
      'bytes' in file.source ? file.source.bytes.length : (await stat(file.source.path)).size;
    if (length === 0) throw new Error(`${file.contentLocation} is empty: nothing to broadcast`);
    const count = Math.ceil(length / maxBytes);
    const sha256 =
      file.sha256 ??
      ('bytes' in file.source
        ? createHash('sha256').update(file.source.bytes).digest('hex')
        : await sha256OfFile(file.source.path));
    for (let i = 0; i < count; i++) {
      const offset = i * maxBytes;
      const partLength = Math.min(maxBytes, length - offset);
      const source: ObjectSource =
        'bytes' in file.source
          ? { bytes: file.source.bytes.subarray(offset, offset + partLength) }
          : { path: file.source.path, offset, length: partLength };
      if (toi > 0xffffffff) throw new RangeError('TOI space exhausted');
      objects.push({
        toi: toi++,
        source,
        contentLocation:
          count === 1 ? file.contentLocation : `${file.contentLocation}.part-${i + 1}-of-${count}`,
        contentType: file.contentType,
        sha256: count === 1 ? sha256 : undefined,
        part: {
          fileLocation: file.contentLocation,
          fileLength: length,
          fileSha256: sha256,
          index: i,
          count,
          offset,
        },
      });
    }
  }
  return objects;
}

export function objectLength(source: ObjectSource): number {
  return 'bytes' in source ? source.bytes.length : source.length;
}

/** z for one-sided normal quantiles used below. */
const Z: Record<string, number> = { '0.99': 2.326, '0.999': 3.09, '0.9999': 3.719 };

/**
 * Repair symbols per cycle so that a receiver losing `expectedLoss` of the datagrams still gets
 * K + 2 symbols of this object in one cycle with probability `confidence` (normal approximation
 * of the binomial; `dispersion` > 1 widens it for bursty loss that interleaving does not fully
 * spread). About 7 % for K = 2996 at 5 % loss, in line with ARCHITECTURE.md's "about 8 %".
 */
export function repairSymbolsFor(
  k: number,
  expectedLoss: number,
  options: { confidence?: '0.99' | '0.999' | '0.9999'; dispersion?: number } = {},
): number {
  if (!(expectedLoss >= 0 && expectedLoss < 0.9))
    throw new RangeError('expected loss must be in [0, 0.9)');
  const z = Z[options.confidence ?? '0.999'];
  const dispersion = options.dispersion ?? 1;
  const need = k + 2;
  const q = 1 - expectedLoss;
  // Solve n*q - z*sqrt(d*n*p*q) >= need for n (a quadratic in sqrt(n)).
  const b = z * Math.sqrt(dispersion * expectedLoss * q);
  const sqrtN = (b + Math.sqrt(b * b + 4 * q * need)) / (2 * q);
  const n = Math.ceil(sqrtN * sqrtN);
  return Math.max(2, n - k);
}

/**
 * Index of dispersion of the loss count one object sees under bursty (Gilbert-Elliott) loss with
 * bursts of meanBurstPackets datagrams, when the sender interleaves `interleave` objects: each
 * object sees bursts about meanBurstPackets / interleave long, and runs of mean length L make the
 * count's variance about (2L - 1) times the independent-loss one.
 */
export function burstDispersion(meanBurstPackets: number, interleave: number): number {
  const perObjectBurst = Math.max(1, meanBurstPackets / Math.max(1, interleave));
  return 2 * perObjectBurst - 1;
}
