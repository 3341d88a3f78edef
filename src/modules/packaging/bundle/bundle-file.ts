import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { removeAfterFailure } from '../../storage/fs-util';
import { TarWriter } from './tar-writer';

/*
 * Writing bundle files so that readers only ever see complete ones: bytes go to
 * `<path><tempSuffix>`, are fsynced, then renamed over `path`. A failure removes the temporary
 * file, so the final name either holds a whole bundle or nothing.
 */

/** A small member given as bytes, or a file streamed from disk when the tar reaches it. */
export type TarMember =
  { name: string; bytes: Buffer } | { name: string; size: number; open: () => Readable };

export interface WrittenTar {
  sha256: string;
  /** What the whole-bundle minisign signature signs, computed as the bytes go by. */
  blake2b512: Buffer;
  size: number;
}

export function tarMemberSize(member: TarMember): number {
  return 'bytes' in member ? member.bytes.length : member.size;
}

/** Writes the members in the given order, hashing the archive on the way to disk (one pass). */
export async function writeTarAtomically(
  path: string,
  tempSuffix: string,
  members: TarMember[],
  onMember: (member: TarMember) => void,
): Promise<WrittenTar> {
  const temp = `${path}${tempSuffix}`;
  const sha256 = createHash('sha256');
  const blake2b512 = createHash('blake2b512');
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback): void {
      sha256.update(chunk);
      blake2b512.update(chunk);
      callback(null, chunk);
    },
  });
  // 'wx': a leftover temporary name is never reused; each attempt has its own random suffix.
  const written = pipeline(tap, createWriteStream(temp, { flags: 'wx' }));
  written.catch(() => undefined); // awaited below; this only stops an early "unhandled" report
  try {
    const tar = new TarWriter(tap);
    for (const member of members) {
      if ('bytes' in member) await tar.addBuffer(member.name, member.bytes);
      else await tar.addFile(member.name, member.size, member.open());
      onMember(member);
    }
    await tar.finish();
    await written;
    await syncFile(temp);
    await rename(temp, path);
    return {
      sha256: sha256.digest('hex'),
      blake2b512: blake2b512.digest(),
      size: tar.bytesWritten,
    };
  } catch (err) {
    tap.destroy();
    await written.catch(() => undefined);
    await removeAfterFailure(temp);
    throw err;
  }
}

export async function writeFileAtomically(
  path: string,
  tempSuffix: string,
  text: string,
): Promise<void> {
  const temp = `${path}${tempSuffix}`;
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await removeAfterFailure(temp);
    throw err;
  }
}

/**
 * fsync through a fresh descriptor: it flushes the file, whichever descriptor wrote it. (A
 * FileHandle's own write stream cannot be used: FileHandle.close() waits for the stream to close,
 * and closing the stream closes the handle before it could be synced.)
 */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes the renames themselves durable: a crash right after must not bring the old names back. */
export async function syncDirectory(pathInside: string): Promise<void> {
  const handle = await open(dirname(pathInside), 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
