import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { verifyMinisign } from '../modules/packaging/bundle/minisign';
import {
  BUNDLE_FORMAT,
  MANIFEST_MEMBER,
  MANIFEST_SIGNATURE_MEMBER,
  bundleTrustedComment,
  memberName,
  type BundleManifest,
  type SyncManifestPayload,
} from '../protocol/sync';
import { SHA256_HEX, safeLessonPath } from '../protocol/sync';
import { diskError } from './download';
import { AgentError } from './errors';
import type { PinnedKey } from './state';
import { TarFormatError, listTar, type TarMember } from './tar-reader';

export interface UnpackOptions {
  bundleId: string;
  keys: PinnedKey[];
  /** The verified sync manifest: every entry must produce a file it lists. */
  manifest: SyncManifestPayload;
  objectsDir: string;
  /** A local file with this sha256 (a patch base), if the terminal has one. */
  findLocal: (sha256: string) => Promise<string | undefined>;
}

export interface UnpackResult {
  manifest?: BundleManifest;
  /** sha256 of every produced file now in objectsDir. */
  produced: string[];
  /** Patches whose base this terminal lacks: the whole file is fetched instead. */
  needWhole: string[];
  /** Byte ranges [start, end) of the bundle that proved corrupt. */
  bad: [number, number][];
}

const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Verifies a downloaded bundle member by member and decodes each entry into the object store
 * (`objectsDir/<sha256>`), keeping only outputs whose sha256 matches. The signed manifest.json is
 * checked with a pinned key and must name this bundle; every entry must produce a file the
 * signed sync manifest lists. Corrupt members are reported as byte ranges to fetch again, a
 * well-formed but untrusted bundle is refused.
 * @throws AgentError bundle_refused
 */
export async function unpackBundle(bundlePath: string, opts: UnpackOptions): Promise<UnpackResult> {
  const result: UnpackResult = { produced: [], needWhole: [], bad: [] };
  const { size } = await stat(bundlePath);
  const handle = await open(bundlePath, 'r');
  let members: TarMember[];
  try {
    members = await listTar(handle, size);
  } catch (err) {
    if (err instanceof TarFormatError) {
      result.bad.push([err.offset, Math.min(size, err.offset + 512)]);
      return result;
    }
    throw err;
  } finally {
    await handle.close();
  }
  const [manifestMember, sigMember] = members;
  if (manifestMember?.name !== MANIFEST_MEMBER || sigMember?.name !== MANIFEST_SIGNATURE_MEMBER) {
    throw refuse(
      `is not a ${BUNDLE_FORMAT} bundle (manifest.json and its signature must come first)`,
    );
  }
  if (manifestMember.size > MAX_MANIFEST_BYTES || sigMember.size > 64 * 1024) {
    throw refuse('has an oversized manifest');
  }
  const manifestBytes = await readMember(bundlePath, manifestMember);
  const sigText = (await readMember(bundlePath, sigMember)).toString('utf8');
  const check = verifyBundleSignature(manifestBytes, sigText, opts.bundleId, opts.keys);
  if (check) {
    // A flipped byte in transit looks exactly like this: fetch those members again first.
    result.bad.push(span(manifestMember), span(sigMember));
    return result;
  }
  const manifest = parseBundleManifest(manifestBytes, opts.bundleId);
  result.manifest = manifest;
  checkEntriesAgainstSync(manifest, opts.manifest);
  const byName = new Map(members.map((m) => [m.name, m]));
  for (const entry of manifest.entries) {
    const member = byName.get(entry.member);
    if (!member) throw refuse(`lacks member ${entry.member} its manifest lists`);
    const out = join(opts.objectsDir, entry.sha256);
    if (await exists(out)) {
      result.produced.push(entry.sha256);
      continue;
    }
    let base: string | undefined;
    if (entry.encoding === 'zstd-patch') {
      base = await opts.findLocal(entry.base as string);
      if (!base) {
        result.needWhole.push(entry.sha256);
        continue;
      }
    }
    const ok = await decodeMember(bundlePath, member, entry.encoding, base, entry.sha256, out);
    if (ok) result.produced.push(entry.sha256);
    else result.bad.push(span(member));
  }
  return result;
}

/** The reason the manifest signature is not acceptable, or undefined when it is. */
export function verifyBundleSignature(
  manifestBytes: Buffer,
  sigText: string,
  bundleId: string,
  keys: PinnedKey[],
): string | undefined {
  const keyLine = sigText.split('\n')[1] ?? '';
  let keyId = '';
  try {
    keyId = Buffer.from(keyLine, 'base64').subarray(2, 10).toString('hex');
  } catch {
    return 'unreadable signature';
  }
  const key = keys.find((k) => k.keyId === keyId);
  if (!key) return `signed by key ${keyId}, which this terminal does not trust`;
  const v = verifyMinisign(manifestBytes, sigText, {
    keyId: key.keyId,
    publicKey: Buffer.from(key.publicKey, 'base64'),
  });
  if (!v.valid) return v.reason;
  if (v.trustedComment !== bundleTrustedComment(bundleId)) {
    return `signature is for "${v.trustedComment}", not bundle ${bundleId}`;
  }
  return undefined;
}

function parseBundleManifest(bytes: Buffer, bundleId: string): BundleManifest {
  let m: BundleManifest;
  try {
    m = JSON.parse(bytes.toString('utf8')) as BundleManifest;
  } catch {
    throw refuse('has a manifest.json that is not JSON');
  }
  if (m.format !== BUNDLE_FORMAT || m.bundleId !== bundleId || !Array.isArray(m.entries)) {
    throw refuse(
      `manifest names ${String(m.bundleId)} (${String(m.format)}), expected ${bundleId}`,
    );
  }
  for (const e of m.entries) {
    const valid =
      SHA256_HEX.test(e.sha256) &&
      Number.isSafeInteger(e.size) &&
      (e.encoding !== 'zstd-patch' || (typeof e.base === 'string' && SHA256_HEX.test(e.base))) &&
      e.member === memberName(e.encoding, e.sha256, e.base);
    if (!valid) throw refuse(`has a malformed entry ${JSON.stringify(e.member)}`);
  }
  return m;
}

/** Every entry must produce exactly a file the signed sync manifest lists at each of its targets. */
function checkEntriesAgainstSync(bundle: BundleManifest, sync: SyncManifestPayload): void {
  const files = new Map<string, { sha256: string; size: number }>();
  for (const lesson of sync.lessons) {
    for (const f of lesson.files) files.set(`${lesson.lessonId}@${lesson.version}/${f.path}`, f);
  }
  for (const entry of bundle.entries) {
    for (const t of entry.targets) {
      safeLessonPath(t.path);
      const listed = files.get(`${t.lessonId}@${t.version}/${t.path}`);
      if (listed && (listed.sha256 !== entry.sha256 || listed.size !== entry.size)) {
        throw refuse(
          `entry ${entry.member} does not match ${t.path} of lesson ${t.lessonId} in the signed manifest`,
        );
      }
    }
  }
}

async function decodeMember(
  bundlePath: string,
  member: TarMember,
  encoding: 'identity' | 'zstd' | 'zstd-patch',
  base: string | undefined,
  sha256: string,
  out: string,
): Promise<boolean> {
  const temp = `${out}.${process.pid}.tmp`;
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const source = () =>
    createReadStream(bundlePath, {
      start: member.dataOffset,
      end: member.dataOffset + member.size - 1,
    });
  try {
    if (member.size === 0) {
      await pipeline(source(), tap, createWriteStream(temp));
    } else if (encoding === 'identity') {
      await pipeline(source(), tap, createWriteStream(temp));
    } else {
      const ok = await zstdDecode(source(), base, tap, temp);
      if (!ok) {
        await unlink(temp).catch(() => undefined);
        return false;
      }
    }
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw diskError(err, out);
  }
  if (hash.digest('hex') !== sha256) {
    await unlink(temp).catch(() => undefined);
    return false;
  }
  // Durable before it becomes visible: the library links these files in.
  const synced = await open(temp, 'r+');
  try {
    await synced.sync();
  } finally {
    await synced.close();
  }
  await rename(temp, out);
  return true;
}

/** zstd -d in a child process (off the event loop); false when the frame is corrupt. */
async function zstdDecode(
  input: NodeJS.ReadableStream,
  base: string | undefined,
  tap: Transform,
  temp: string,
): Promise<boolean> {
  const args = ['-d', '-c', '-q', '--no-progress', '--long=31'];
  if (base) args.push(`--patch-from=${base}`);
  args.push('-');
  const child = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT' ? new Error('zstd is not installed (apt-get install zstd)') : err,
      ),
    );
    child.on('close', (code) => resolve(code));
  });
  const feed = pipeline(input as NodeJS.ReadableStream & AsyncIterable<Buffer>, child.stdin).catch(
    () => undefined,
  );
  const drain = pipeline(child.stdout, tap, createWriteStream(temp));
  const [code] = await Promise.all([exited, feed, drain]);
  return code === 0;
}

async function readMember(bundlePath: string, member: TarMember): Promise<Buffer> {
  const handle = await open(bundlePath, 'r');
  try {
    const buf = Buffer.alloc(member.size);
    await handle.read(buf, 0, member.size, member.dataOffset);
    return buf;
  } finally {
    await handle.close();
  }
}

const span = (m: TarMember): [number, number] => [m.headerOffset, m.dataOffset + m.size];

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function refuse(message: string): AgentError {
  return new AgentError('bundle_refused', `refused bundle: it ${message}; nothing installed`);
}
