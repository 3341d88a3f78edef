import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { AppError } from '../../common/errors/app-error';
import {
  assertRange,
  assertSha256,
  rangeNotSatisfiable,
  type BlobDriver,
  type ByteRange,
  type StagedFile,
} from './blob-store';
import { errnoCode, removeAfterFailure, unlinkQuietly } from './fs-util';

/** Blobs on a local (or network-mounted) filesystem under `<dataDir>/blobs`. */
export class FsBlobDriver implements BlobDriver {
  readonly name = 'fs';
  private readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'blobs');
  }

  async ensureRoot(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.size(sha256)) !== null;
  }

  async size(sha256: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(sha256))).size;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return null;
      throw err;
    }
  }

  async commit(staged: StagedFile): Promise<{ created: boolean }> {
    const target = this.pathOf(staged.sha256);
    const dir = dirname(target);
    await mkdir(dir, { recursive: true });
    if (await this.has(staged.sha256)) {
      await unlinkQuietly(staged.path);
      return { created: false };
    }
    // The rename is what makes the blob visible; its bytes must be on disk before it, or a
    // power cut could leave a complete-looking name over missing data.
    await fsync(staged.path);
    try {
      // Two commits of the same content may race here; either rename wins and both leave the
      // same bytes, so the loser reporting created=true is harmless.
      await rename(staged.path, target);
    } catch (err) {
      if (errnoCode(err) !== 'EXDEV') throw err;
      await this.copyAcrossDevices(staged.path, target);
    }
    // Makes the new name itself durable. Best effort: the blob is already visible and whole, and
    // some network filesystems refuse to sync a directory.
    await fsync(dir).catch(() => undefined);
    return { created: true };
  }

  async open(sha256: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(sha256);
    if (range) assertRange(range);
    const handle = await open(path, 'r').catch((err: unknown) => {
      throw errnoCode(err) === 'ENOENT' ? AppError.notFound('blob') : err;
    });
    try {
      const { size } = await handle.stat();
      if (range && range.start >= size) throw rangeNotSatisfiable(range, size);
    } catch (err) {
      await handle.close();
      throw err;
    }
    // The stream owns the handle from here on and closes it when it ends or is destroyed.
    // 1 MiB reads: a sixteenth of the reads and stream events of the default 64 KiB for the same bytes.
    return handle.createReadStream({
      start: range?.start,
      end: range?.end,
      highWaterMark: 1 << 20,
    });
  }

  async delete(sha256: string): Promise<void> {
    await unlinkQuietly(this.pathOf(sha256));
  }

  async checkWritable(): Promise<void> {
    const probe = join(this.root, `.probe-${randomUUID()}`);
    await writeFile(probe, 'ok');
    await unlink(probe);
  }

  private pathOf(sha256: string): string {
    return join(this.root, relativeBlobPath(sha256));
  }

  /** When DATA_DIR/tmp is a separate mount, rename cannot cross it: copy beside the target first. */
  private async copyAcrossDevices(source: string, target: string): Promise<void> {
    const partial = `${target}.${randomUUID()}.partial`;
    try {
      await copyFile(source, partial);
      await fsync(partial);
      await rename(partial, target);
    } catch (err) {
      await removeAfterFailure(partial);
      throw err;
    }
    await unlinkQuietly(source);
  }
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Where a blob lives below DATA_DIR/blobs: `ab/cd/abcd...` (a web server's internal location maps it). */
export function relativeBlobPath(sha256: string): string {
  assertSha256(sha256);
  return `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}
