import { unlink } from 'node:fs/promises';

/** Duck-typed: errors from Node's core may come from another realm (vm contexts, Jest). */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}

/** Removes a file that may already be gone. */
export async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/**
 * Cleanup on an error path: a failure here must not replace the error being reported. What it
 * leaves behind is only ever a temporary name, never a visible blob.
 */
export async function removeAfterFailure(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}
