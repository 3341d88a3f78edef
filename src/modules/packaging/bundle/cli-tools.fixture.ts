import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { generateKeyPair, keyIdFor, minisignPublicKey } from '../../signing/ed25519';

/**
 * Specs check bundles only with tools nobody here wrote (GNU tar, zstd, minisign, sha256sum),
 * so a bug shared by our writer and our reader cannot hide.
 */
export interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function tool(command: string, args: string[], cwd?: string): ToolRun {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw missing
      ? new Error(`${command} is not installed: bash scripts/ensure-services.sh installs it`)
      : result.error;
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a tool that must succeed, failing the spec with its stderr otherwise. */
export function toolOk(command: string, args: string[], cwd?: string): string {
  const run = tool(command, args, cwd);
  if (run.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  }
  return run.stdout;
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `classcast-${prefix}-`));
}

/** A signing key with what `minisign -P` takes: the base64 line of the public key file. */
export function testSigner(): {
  keyId: string;
  seed: Buffer;
  publicKey: Buffer;
  minisignKey: string;
} {
  const { seed, publicKey } = generateKeyPair();
  const keyId = keyIdFor(publicKey);
  return {
    keyId,
    seed,
    publicKey,
    minisignKey: minisignPublicKey(keyId, publicKey).split('\n')[1],
  };
}

/** A file of `size` pseudo-random (incompressible) bytes, written as a stream. */
export async function writeNoiseFile(path: string, size: number, seedByte = 1): Promise<void> {
  function* chunks(): Generator<Buffer> {
    let state = (seedByte * 2654435761) >>> 0 || 1;
    let left = size;
    while (left > 0) {
      const chunk = Buffer.alloc(Math.min(left, 1024 * 1024));
      for (let i = 0; i + 4 <= chunk.length; i += 4) {
        // xorshift32: fast, deterministic, and zstd finds nothing to squeeze in it.
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        chunk.writeUInt32LE(state >>> 0, i);
      }
      left -= chunk.length;
      yield chunk;
    }
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
}
