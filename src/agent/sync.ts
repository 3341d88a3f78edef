import { mkdir, rename, rm, unlink } from 'node:fs/promises';
import { haveObject, installReady, sameVersion } from './sync-install';
import { join } from 'node:path';
import { SYNC_PATHS, type SignedEnvelope, type SyncManifestBundle } from '../protocol/sync';
import { sha256File, unpackBundle, type UnpackResult } from './bundle';
import { downloadRanges, freeBytesAt, invalidateRanges } from './download';
import { AgentError } from './errors';
import { readJson, writeJson } from './fs-atomic';
import type { HttpClient } from './http';
import { Library } from './library';
import type { AgentLogger } from './log';
import { Progress } from './progress';
import type { TokenBucket } from './rate';
import {
  loadKeys,
  loadSavedManifest,
  loadTrust,
  saveKeys,
  saveManifest,
  saveTrust,
  trustedNow,
  type AgentConfig,
  type AgentPaths,
} from './state';
import { followRotations, verifyManifest, type VerifiedManifest } from './trust';
import { installReleases } from './update';
import { AGENT_VERSION } from './version';
import { msLeftInWindow, type ReceiveWindow } from './windows';

export interface SyncContext {
  paths: AgentPaths;
  config: AgentConfig;
  client: HttpClient;
  log: AgentLogger;
  clock?: () => number;
}

export interface SyncOptions {
  connections?: number;
  bucket?: TokenBucket;
  windows?: ReceiveWindow[];
  retryBaseMs?: number;
  idleTimeoutMs?: number;
  segmentBytes?: number;
  freeBytes?: (dir: string) => Promise<number>;
  /** Test hook: runs after a lesson is staged, before it is renamed into place. */
  afterStage?: () => Promise<void>;
}

export interface SyncOutcome {
  /** The library holds exactly the manifest's lessons. */
  complete: boolean;
  manifestVersion: number;
  nextPollSeconds: number;
  installed: string[];
  removed: string[];
  bytesReceived: number;
  /** A new agent release was installed: restart into it. */
  newRelease?: string;
}

interface BundleState {
  /** Bundles fully processed, by id: not fetched again. */
  done: string[];
}

/** One sync pass: manifest, bundles, installs, removals, receipts, inventory. */
export async function syncOnce(ctx: SyncContext, opts: SyncOptions = {}): Promise<SyncOutcome> {
  const { paths, log } = ctx;
  const library = new Library(paths.library, log);
  await library.recover();
  const verified = await fetchManifest(ctx);
  const { payload } = verified;
  log.info(
    { version: payload.version, lessons: payload.lessons.length, bundles: payload.bundles.length },
    'manifest verified',
  );
  const objects = join(paths.work, 'objects');
  await mkdir(objects, { recursive: true });
  await mkdir(paths.downloads, { recursive: true });

  const outcome: SyncOutcome = {
    complete: false,
    manifestVersion: payload.version,
    nextPollSeconds: payload.nextPollSeconds,
    installed: [],
    removed: [],
    bytesReceived: 0,
  };
  const needed = async () => {
    const index = await library.index();
    return payload.lessons.filter((l) => !sameVersion(index.lessons[l.lessonId], l));
  };

  const windowLeft = msLeftInWindow(opts.windows ?? [], new Date(ctx.clock?.() ?? Date.now()));
  if (windowLeft === 0 && (await needed()).length > 0) {
    throw new AgentError('outside_window', 'outside the receive window: nothing downloaded');
  }
  const abort = new AbortController();
  const windowTimer = Number.isFinite(windowLeft)
    ? setTimeout(() => abort.abort(), windowLeft)
    : undefined;
  try {
    const stateFile = join(paths.work, 'bundles.json');
    const bundleState = (await readJson<BundleState>(stateFile)) ?? { done: [] };
    const now = trustedNow(await loadTrust(paths), ctx.clock);
    const bundles = [...payload.bundles]
      .filter((b) => !bundleState.done.includes(b.id))
      .filter((b) => !b.notBefore || Date.parse(b.notBefore) <= now)
      .sort((a, b) => a.priority - b.priority);
    for (const bundle of bundles) {
      if ((await needed()).length === 0) break;
      let unpacked: UnpackResult;
      let received = 0;
      try {
        ({ unpacked, received } = await fetchBundle(
          ctx,
          verified,
          bundle,
          objects,
          library,
          opts,
          abort.signal,
        ));
      } catch (err) {
        if (
          err instanceof AgentError &&
          (err.code === 'bundle_refused' || err.code === 'manifest_refused')
        ) {
          await sendReceipt(ctx, {
            bundleId: bundle.id,
            state: 'failed',
            error: err.message,
            bytesReceived: 0,
            via: 'http',
          });
        }
        throw err;
      }
      outcome.bytesReceived += received;
      const installed = await installReady(library, verified, objects, ctx.log, opts.afterStage);
      outcome.installed.push(...installed);
      bundleState.done.push(bundle.id);
      await writeJson(stateFile, bundleState);
      await sendReceipt(ctx, {
        bundleId: bundle.id,
        state: 'installed',
        bytesReceived: received,
        via: 'http',
      });
      await unlink(join(paths.downloads, `${bundle.sha256}.tar`)).catch(() => undefined);
      await unlink(join(paths.downloads, `${bundle.sha256}.tar.json`)).catch(() => undefined);
      log.info(
        { bundleId: bundle.id, bytes: received, lessons: unpacked.manifest?.lessons.length },
        'bundle installed',
      );
    }
    // Whatever no bundle brought (a patch whose base is gone, a wiped terminal) comes file by file.
    for (const lesson of await needed()) {
      for (const f of lesson.files) {
        if (await haveObject(objects, f.sha256)) continue;
        if (await library.findBySha(f.sha256)) continue;
        outcome.bytesReceived += await fetchFile(
          ctx,
          objects,
          f.sha256,
          f.size,
          opts,
          abort.signal,
        );
      }
    }
    outcome.installed.push(
      ...(await installReady(library, verified, objects, ctx.log, opts.afterStage)),
    );
  } finally {
    if (windowTimer) clearTimeout(windowTimer);
  }

  const wanted = new Set(payload.lessons.map((l) => l.lessonId));
  const index = await library.index();
  for (const lessonId of Object.keys(index.lessons)) {
    if (!wanted.has(lessonId) && (await library.remove(lessonId))) {
      outcome.removed.push(lessonId);
      log.info({ lessonId }, 'lesson removed');
    }
  }
  outcome.newRelease = await installReleases(paths, library, log);
  const remaining = await needed();
  outcome.complete = remaining.length === 0;
  if (outcome.complete) await rm(objects, { recursive: true, force: true });
  await sendInventory(ctx, library);
  return outcome;
}

/** GET /sync/manifest (ETag/304), following key rotations, then every trust check. */
export async function fetchManifest(ctx: SyncContext): Promise<VerifiedManifest> {
  const { paths, client, config, log } = ctx;
  const trust = await loadTrust(paths);
  const keys = await loadKeys(paths);
  const saved = await loadSavedManifest(paths);
  const headers: Record<string, string> = {};
  if (trust.etag && saved) headers['if-none-match'] = trust.etag;
  const res = await client.json<SignedEnvelope>(SYNC_PATHS.manifest, {
    headers,
    okStatuses: [200, 304],
  });
  const body = res.status === 304 ? saved : res.body;
  const expect = {
    schoolId: config.schoolId,
    lastVersion: trust.lastVersion,
    now: trustedNow(trust, ctx.clock),
  };
  let verified: VerifiedManifest;
  try {
    verified = verifyManifest(body, keys.keys, expect);
  } catch (err) {
    const keyId = (body as { keyId?: unknown } | undefined)?.keyId;
    if (
      !(err instanceof AgentError) ||
      typeof keyId !== 'string' ||
      keys.keys.some((k) => k.keyId === keyId)
    ) {
      throw err;
    }
    // Signed by a key we do not know yet: a rotation we can follow only if an old key signed it.
    const added = await followRotations(client, keys);
    if (added.length === 0) throw err;
    await saveKeys(paths, keys);
    log.info({ keys: added.map((k) => k.keyId) }, 'followed a signing key rotation');
    verified = verifyManifest(body, keys.keys, expect);
  }
  if (keys.keysVersion === undefined || verified.payload.keysVersion > keys.keysVersion) {
    const added = await followRotations(client, keys).catch(() => []);
    keys.keysVersion = verified.payload.keysVersion;
    await saveKeys(paths, keys);
    if (added.length)
      log.info({ keys: added.map((k) => k.keyId) }, 'followed a signing key rotation');
  }
  const issued = Date.parse(verified.payload.issuedAt);
  await saveManifest(paths, verified.envelope);
  await saveTrust(paths, {
    lastVersion: verified.payload.version,
    lastIssuedAt:
      trust.lastIssuedAt && Date.parse(trust.lastIssuedAt) > issued
        ? trust.lastIssuedAt
        : verified.payload.issuedAt,
    etag: typeof res.headers.etag === 'string' ? res.headers.etag : trust.etag,
  });
  return verified;
}

/** Download (resumable), verify and decode one bundle, fetching corrupt ranges again. */
async function fetchBundle(
  ctx: SyncContext,
  verified: VerifiedManifest,
  bundle: SyncManifestBundle,
  objects: string,
  library: Library,
  opts: SyncOptions,
  signal: AbortSignal,
): Promise<{ unpacked: UnpackResult; received: number }> {
  const partial = join(ctx.paths.downloads, `${bundle.sha256}.tar`);
  const keys = (await loadKeys(ctx.paths)).keys;
  const progress = new Progress(`bundle ${bundle.id.slice(0, 8)}`, ctx.log);
  let received = 0;
  for (let attempt = 1; attempt <= 4; attempt += 1) {
    const r = await downloadRanges(
      { url: bundle.url, size: bundle.size, sha256: bundle.sha256, partial },
      {
        client: ctx.client,
        log: ctx.log,
        connections: opts.connections,
        bucket: opts.bucket,
        signal,
        retryBaseMs: opts.retryBaseMs,
        idleTimeoutMs: opts.idleTimeoutMs,
        segmentBytes: opts.segmentBytes,
        freeBytes: opts.freeBytes,
        onProgress: (have, total, thisRun) => progress.update(have, total, received + thisRun),
      },
    );
    received += r.received;
    const wholeOk = (await sha256File(partial)) === bundle.sha256;
    let unpacked: UnpackResult;
    try {
      unpacked = await unpackBundle(partial, {
        bundleId: bundle.id,
        keys,
        manifest: verified.payload,
        objectsDir: objects,
        findLocal: (sha) => library.findBySha(sha),
      });
    } catch (err) {
      if (wholeOk) throw err;
      ctx.log.warn(
        { bundleId: bundle.id, err: (err as Error).message },
        'bundle damaged in transit; fetching it again',
      );
      await invalidateRanges(partial, [[0, bundle.size]]);
      continue;
    }
    if (wholeOk && unpacked.bad.length === 0) {
      for (const sha of unpacked.needWhole) {
        const f = verified.payload.lessons.flatMap((l) => l.files).find((x) => x.sha256 === sha);
        if (f) received += await fetchFile(ctx, objects, sha, f.size, opts, signal);
      }
      return { unpacked, received };
    }
    if (wholeOk) {
      throw new AgentError(
        'bundle_refused',
        `refused bundle ${bundle.id}: its sha256 matches but members do not verify; nothing installed`,
      );
    }
    const ranges =
      unpacked.bad.length > 0 ? unpacked.bad : ([[0, bundle.size]] as [number, number][]);
    ctx.log.warn(
      { bundleId: bundle.id, ranges },
      'corrupt bytes detected; fetching those ranges again',
    );
    await invalidateRanges(partial, ranges);
  }
  throw new AgentError(
    'bundle_refused',
    `bundle ${bundle.id} still fails verification after 4 downloads; nothing installed`,
  );
}

/** GET /sync/files/:sha256 into the object store (resumable, verified). */
async function fetchFile(
  ctx: SyncContext,
  objects: string,
  sha256: string,
  size: number,
  opts: SyncOptions,
  signal: AbortSignal,
): Promise<number> {
  const partial = join(objects, `${sha256}.part`);
  const r = await downloadRanges(
    { url: SYNC_PATHS.file(sha256), size, sha256, partial },
    {
      client: ctx.client,
      log: ctx.log,
      bucket: opts.bucket,
      signal,
      retryBaseMs: opts.retryBaseMs,
      idleTimeoutMs: opts.idleTimeoutMs,
      freeBytes: opts.freeBytes,
    },
  );
  if ((await sha256File(partial)) !== sha256) {
    await unlink(partial).catch(() => undefined);
    await unlink(`${partial}.json`).catch(() => undefined);
    throw new AgentError(
      'server_unavailable',
      `file ${sha256} arrived damaged; it is fetched again on the next attempt`,
    );
  }
  await rename(partial, join(objects, sha256));
  await unlink(`${partial}.json`).catch(() => undefined);
  return r.received;
}

async function sendReceipt(
  ctx: SyncContext,
  body: {
    bundleId: string;
    state: 'installed' | 'failed';
    error?: string;
    bytesReceived: number;
    via: 'http' | 'usb';
  },
): Promise<void> {
  try {
    await ctx.client.json(SYNC_PATHS.receipts, {
      method: 'POST',
      json: { ...body, ...(body.error ? { error: body.error.slice(0, 2000) } : {}) },
    });
  } catch (err) {
    // A lost receipt is re-derived from the inventory; it must not undo an install.
    ctx.log.warn({ bundleId: body.bundleId, err: (err as Error).message }, 'receipt not delivered');
  }
}

export async function sendInventory(ctx: SyncContext, library: Library): Promise<void> {
  const index = await library.index();
  const lessons = Object.values(index.lessons).map((l) => ({
    lessonId: l.lessonId,
    version: l.version,
  }));
  try {
    await ctx.client.json(SYNC_PATHS.inventory, {
      method: 'POST',
      json: { lessons, freeBytes: await freeBytesAt(ctx.paths.root), agentVersion: AGENT_VERSION },
    });
  } catch (err) {
    ctx.log.warn(
      { err: (err as Error).message },
      'inventory not delivered; sent again on the next sync',
    );
  }
}

export { sendReceipt };
