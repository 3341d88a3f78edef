import { FileStore } from '@tus/file-store';
import { Hash, createHash } from 'node:crypto';
import { Readable, Transform, pipeline } from 'node:stream';
import { HEAD_BYTES } from '../storage/blob-store';

interface RunningHash {
  hash: Hash;
  offset: number;
  head: Buffer;
}

/**
 * A tus file store that hashes bytes as they arrive, so completing a 2 GB upload does not read
 * it all again. The running hash lives in memory while the upload's chunks arrive in order in
 * this process; after a restart or any gap it is dropped and completion falls back to a re-read.
 */
export class HashingFileStore extends FileStore {
  private readonly running = new Map<string, RunningHash>();

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    let state = this.running.get(id);
    if (offset === 0) {
      state = { hash: createHash('sha256'), offset: 0, head: Buffer.alloc(0) };
      this.running.set(id, state);
    }
    if (!state || state.offset !== offset) {
      this.running.delete(id);
      return super.write(readable, id, offset);
    }
    const current = state;
    let counted = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, done) {
        current.hash.update(chunk);
        if (current.head.length < HEAD_BYTES) {
          current.head = Buffer.concat([
            current.head,
            chunk.subarray(0, HEAD_BYTES - current.head.length),
          ]);
        }
        counted += chunk.length;
        done(null, chunk);
      },
    });
    pipeline(readable, hasher, () => undefined);
    try {
      const reached = await super.write(hasher, id, offset);
      if (reached === offset + counted) current.offset = reached;
      else this.running.delete(id);
      return reached;
    } catch (err) {
      // Some hashed bytes may not have reached the disk: this hash can no longer be trusted.
      this.running.delete(id);
      throw err;
    }
  }

  /** The digest and head of a complete upload of `size` bytes, when hashed in one piece here. */
  takeDigest(id: string, size: number): { sha256: string; head: Buffer } | null {
    const state = this.running.get(id);
    this.running.delete(id);
    if (!state || state.offset !== size) return null;
    return { sha256: state.hash.digest('hex'), head: state.head };
  }

  forget(id: string): void {
    this.running.delete(id);
  }
}
