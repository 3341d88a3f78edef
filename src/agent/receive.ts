import { randomInt } from 'node:crypto';
import { mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  FluteReceiver,
  GilbertElliottLoss,
  type FdtFile,
  type LossModel,
  type ReceivedFile,
} from '../broadcast';
import { parseBroadcastLocation } from '../protocol/broadcast';
import { SYNC_PATHS, type SignedEnvelope } from '../protocol/sync';
import { sha256File, unpackBundle } from './bundle';
import { clientFor, dirOf, num, str, withLock, type Flags } from './commands';
import { downloadRanges } from './download';
import { AgentError } from './errors';
import { Library } from './library';
import type { AgentLogger } from './log';
import { sleep } from './rate';
import {
  loadConfig,
  loadKeys,
  loadSavedManifest,
  loadTrust,
  saveManifest,
  saveTrust,
  trustedNow,
  type AgentConfig,
  type AgentPaths,
} from './state';
import { fetchManifest, sendInventory } from './sync';
import { haveObject, installReady, sameVersion } from './sync-install';
import { verifyManifest, type VerifiedManifest } from './trust';

export interface ReceiveOptions {
  port: number;
  group?: string;
  groupInterface?: string;
  tsi: number;
  timeoutMs: number;
  recvBufferBytes: number;
  /** Longest random pause before unicast repair, so a whole region does not ask at once. */
  backoffMaxMs: number;
  /** Silence this long after datagrams were heard ends the reception (the carousel is over). */
  idleMs: number;
  lossModel?: LossModel;
}

export function receiveOptions(flags: Flags): ReceiveOptions {
  const port = num(flags, 'port', 1, 65535);
  if (port === undefined) throw new AgentError('usage', 'receive needs --port P');
  const group = str(flags, 'group');
  if (group !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(group)) {
    throw new AgentError('usage', '--group must be an IPv4 multicast address');
  }
  const lossPercent = num(flags, 'simulate-loss', 0, 90);
  const burst = num(flags, 'loss-burst', 1, 1_000_000) ?? 1;
  const seed = num(flags, 'loss-seed', 0, 2 ** 31) ?? 1;
  return {
    port,
    group,
    groupInterface: str(flags, 'interface'),
    tsi: num(flags, 'tsi', 0, 0xffffffff) ?? 1,
    timeoutMs: (num(flags, 'timeout', 1, 30 * 86400) ?? 3600) * 1000,
    recvBufferBytes: (num(flags, 'recv-buffer-mb', 1, 1024) ?? 4) * 1024 * 1024,
    backoffMaxMs: num(flags, 'backoff-max-ms', 0, 3_600_000) ?? 30_000,
    idleMs: (num(flags, 'idle', 1, 86400) ?? 60) * 1000,
    lossModel:
      lossPercent && lossPercent > 0
        ? GilbertElliottLoss.withMeanLoss(lossPercent / 100, burst, seed)
        : undefined,
  };
}

interface ReceiveContext {
  paths: AgentPaths;
  config: AgentConfig;
  log: AgentLogger;
  library: Library;
  objects: string;
}

/**
 * `receive`: listens to the broadcast carousel, installs what the signed sync manifest lists as
 * bundles complete, then repairs what is still missing from the server by sha256 after a random
 * back-off, and reports receipts via=broadcast with the loss it saw. Exits 0 when the library
 * holds every lesson of the manifest.
 */
export async function receive(flags: Flags, log: AgentLogger): Promise<number> {
  const paths = dirOf(flags);
  const opts = receiveOptions(flags);
  return withLock(paths, async () => {
    const { config } = await loadConfig(paths);
    const library = new Library(paths.library, log);
    await library.recover();
    const objects = join(paths.work, 'objects');
    await mkdir(objects, { recursive: true });
    const ctx: ReceiveContext = { paths, config, log, library, objects };
    return new Session(ctx, opts).run();
  });
}

class Session {
  private verified?: VerifiedManifest;
  /** Bundle files decoded from the carousel, by bundle id: installed once a manifest lists them. */
  private readonly pending = new Map<string, ReceivedFile>();
  private readonly fromBroadcast = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private wake?: () => void;

  constructor(
    private readonly ctx: ReceiveContext,
    private readonly opts: ReceiveOptions,
  ) {}

  async run(): Promise<number> {
    const { ctx, opts } = this;
    this.verified = await this.savedManifest();
    await this.refreshFromServer();
    const receiver = await FluteReceiver.start({
      tsi: opts.tsi,
      port: opts.port,
      address: '0.0.0.0',
      group: opts.group,
      groupInterface: opts.group ? (opts.groupInterface ?? '127.0.0.1') : undefined,
      stateDir: join(ctx.paths.root, 'broadcast'),
      recvBufferBytes: opts.recvBufferBytes,
      lossModel: opts.lossModel,
      acceptObject: (f) => this.accept(f),
      logger: ctx.log,
    });
    ctx.log.info(
      { port: opts.port, group: opts.group, tsi: opts.tsi },
      'listening to the carousel',
    );
    let closed = false;
    receiver.on('file', (f: ReceivedFile) => {
      this.chain = this.chain
        .then(() => this.onFile(f))
        .catch((err: unknown) => {
          ctx.log.error(
            { err: (err as Error).message, file: f.contentLocation },
            'broadcast file not used',
          );
        });
      void this.chain.then(() => this.wake?.());
    });
    receiver.on('session-closed', () => {
      closed = true;
      this.wake?.();
    });
    const deadline = Date.now() + opts.timeoutMs;
    // The last datagram of a carousel (A flag) may be lost in a fade: silence ends it too.
    let heard = 0;
    let heardAt = Date.now();
    const silent = () => {
      const seen = receiver.stats().received;
      if (seen !== heard) {
        heard = seen;
        heardAt = Date.now();
      }
      return heard > 0 && Date.now() - heardAt >= opts.idleMs;
    };
    try {
      while (!closed && Date.now() < deadline && !silent() && !(await this.complete())) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, Math.min(1000, Math.max(0, deadline - Date.now())));
        });
      }
      await this.chain;
    } finally {
      await receiver.close();
    }
    const stats = receiver.stats();
    ctx.log.info(
      {
        received: stats.received,
        lost: stats.lost,
        lossRate: Number(stats.lossRate.toFixed(4)),
        objectsDecoded: stats.objectsDecoded,
        fecDecodes: stats.fecDecodes,
        refused: stats.refusedObject,
        closed,
      },
      'carousel reception ended',
    );
    return this.finish({ expected: stats.received + stats.lost, received: stats.received });
  }

  /** Only the own school's manifest and bundles it lists (any bundle while no manifest is known). */
  private accept(f: FdtFile): boolean {
    const name = parseBroadcastLocation(f.part?.fileLocation ?? f.contentLocation);
    if (name.kind === 'manifest') return name.schoolId === this.ctx.config.schoolId;
    if (name.kind === 'bundle') {
      if (!this.verified) return true;
      return this.verified.payload.bundles.some((b) => b.id === name.bundleId);
    }
    return false;
  }

  private async onFile(f: ReceivedFile): Promise<void> {
    const { log } = this.ctx;
    const name = parseBroadcastLocation(f.contentLocation);
    if (name.kind === 'manifest') {
      if (name.schoolId !== this.ctx.config.schoolId) return;
      await this.adoptManifest(JSON.parse(await readFile(f.path, 'utf8')) as SignedEnvelope);
    } else if (name.kind === 'bundle') {
      this.pending.set(name.bundleId, f);
    } else {
      log.warn({ file: f.contentLocation }, 'ignored: not a Classcast object');
      return;
    }
    await this.installPending();
  }

  /** A manifest from the carousel passes every check a downloaded one does. */
  private async adoptManifest(envelope: SignedEnvelope): Promise<void> {
    const { paths, config, log } = this.ctx;
    const trust = await loadTrust(paths);
    const keys = await loadKeys(paths);
    let verified: VerifiedManifest;
    try {
      verified = verifyManifest(envelope, keys.keys, {
        schoolId: config.schoolId,
        lastVersion: trust.lastVersion,
        now: trustedNow(trust),
      });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'broadcast manifest refused');
      return;
    }
    if (this.verified && verified.payload.version < this.verified.payload.version) return;
    this.verified = verified;
    await saveManifest(paths, verified.envelope);
    const issued = Date.parse(verified.payload.issuedAt);
    await saveTrust(paths, {
      ...trust,
      lastVersion: verified.payload.version,
      lastIssuedAt:
        trust.lastIssuedAt && Date.parse(trust.lastIssuedAt) > issued
          ? trust.lastIssuedAt
          : verified.payload.issuedAt,
    });
    log.info({ version: verified.payload.version }, 'signed manifest received by broadcast');
  }

  private async installPending(): Promise<void> {
    const { log, library, objects } = this.ctx;
    const verified = this.verified;
    if (!verified) return;
    for (const [bundleId, f] of [...this.pending]) {
      this.pending.delete(bundleId);
      const listed = verified.payload.bundles.find((b) => b.id === bundleId);
      const sha = await sha256File(f.path);
      if (!listed || listed.sha256 !== sha) {
        log.warn(
          { bundleId, sha256: sha },
          'ignored: the signed manifest does not list this bundle',
        );
        await unlink(f.path).catch(() => undefined);
        continue;
      }
      const keys = (await loadKeys(this.ctx.paths)).keys;
      const unpacked = await unpackBundle(f.path, {
        bundleId,
        keys,
        manifest: verified.payload,
        objectsDir: objects,
        findLocal: (s) => library.findBySha(s),
      });
      this.fromBroadcast.set(bundleId, f.length);
      const installed = await installReady(library, verified, objects, log);
      log.info(
        { bundleId, produced: unpacked.produced.length, installed: installed.length },
        'bundle received by broadcast',
      );
    }
  }

  private async complete(): Promise<boolean> {
    if (!this.verified) return false;
    const index = await this.ctx.library.index();
    return this.verified.payload.lessons.every((l) => sameVersion(index.lessons[l.lessonId], l));
  }

  /** Repairs the remainder by sha256, installs, and reports. */
  private async finish(symbols: { expected: number; received: number }): Promise<number> {
    const { ctx, opts } = this;
    await this.refreshFromServer();
    const verified = this.verified;
    if (!verified) {
      throw new AgentError(
        'server_unavailable',
        'no signed manifest: none came by broadcast and the server did not answer',
      );
    }
    let repaired = 0;
    let repairBytes = 0;
    if (!(await this.complete())) {
      const missing = await this.missingFiles(verified);
      const pause = opts.backoffMaxMs > 0 ? randomInt(opts.backoffMaxMs + 1) : 0;
      ctx.log.info(
        { files: missing.length, backoffMs: pause },
        'repairing the remainder by unicast',
      );
      await sleep(pause);
      const { client } = await clientFor(ctx.paths);
      try {
        for (const f of missing) {
          const partial = join(ctx.objects, `${f.sha256}.part`);
          const r = await downloadRanges(
            { url: SYNC_PATHS.file(f.sha256), size: f.size, sha256: f.sha256, partial },
            { client, log: ctx.log },
          );
          if ((await sha256File(partial)) !== f.sha256) {
            await unlink(partial).catch(() => undefined);
            throw new AgentError(
              'server_unavailable',
              `repair copy of ${f.sha256} arrived damaged`,
            );
          }
          await rename(partial, join(ctx.objects, f.sha256));
          await unlink(`${partial}.json`).catch(() => undefined);
          repaired += 1;
          repairBytes += r.received;
        }
      } finally {
        client.close();
      }
      await installReady(ctx.library, verified, ctx.objects, ctx.log);
    }
    const complete = await this.complete();
    await this.report(verified, symbols, repaired, repairBytes, complete);
    ctx.log.info(
      { complete, repairedFiles: repaired, repairBytes, bundles: this.fromBroadcast.size },
      complete ? 'library matches the manifest' : 'library incomplete',
    );
    return complete ? 0 : 1;
  }

  private async missingFiles(
    verified: VerifiedManifest,
  ): Promise<{ sha256: string; size: number }[]> {
    const index = await this.ctx.library.index();
    const out = new Map<string, number>();
    for (const lesson of verified.payload.lessons) {
      if (sameVersion(index.lessons[lesson.lessonId], lesson)) continue;
      for (const f of lesson.files) {
        if (out.has(f.sha256) || (await haveObject(this.ctx.objects, f.sha256))) continue;
        if (await this.ctx.library.findBySha(f.sha256, index)) continue;
        out.set(f.sha256, f.size);
      }
    }
    return [...out].map(([sha256, size]) => ({ sha256, size }));
  }

  private async report(
    verified: VerifiedManifest,
    symbols: { expected: number; received: number },
    repaired: number,
    repairBytes: number,
    complete: boolean,
  ): Promise<void> {
    const { ctx } = this;
    let client;
    try {
      client = (await clientFor(ctx.paths)).client;
    } catch {
      return;
    }
    try {
      const sctx = { paths: ctx.paths, config: ctx.config, client, log: ctx.log };
      const ids = new Set([...this.fromBroadcast.keys()]);
      // A bundle that never decoded but whose lessons the repair completed came by broadcast too.
      if (complete && ids.size === 0) for (const b of verified.payload.bundles) ids.add(b.id);
      for (const bundleId of ids) {
        try {
          await client.json(SYNC_PATHS.receipts, {
            method: 'POST',
            json: {
              bundleId,
              state: complete ? 'installed' : 'failed',
              ...(complete ? {} : { error: 'broadcast incomplete and unicast repair failed' }),
              bytesReceived: (this.fromBroadcast.get(bundleId) ?? 0) + repairBytes,
              via: 'broadcast',
              loss: {
                symbolsExpected: symbols.expected,
                symbolsReceived: symbols.received,
                objectsRepaired: repaired,
              },
            },
          });
        } catch (err) {
          ctx.log.warn({ bundleId, err: (err as Error).message }, 'receipt not delivered');
        }
      }
      await sendInventory(sctx, ctx.library);
    } finally {
      client.close();
    }
  }

  private async savedManifest(): Promise<VerifiedManifest | undefined> {
    const { paths, config } = this.ctx;
    const saved = await loadSavedManifest(paths);
    if (!saved) return undefined;
    try {
      const trust = await loadTrust(paths);
      return verifyManifest(saved, (await loadKeys(paths)).keys, {
        schoolId: config.schoolId,
        lastVersion: trust.lastVersion,
        now: trustedNow(trust),
      });
    } catch {
      return undefined;
    }
  }

  /** The server's manifest when it answers; offline the broadcast one will do. */
  private async refreshFromServer(): Promise<void> {
    const { ctx } = this;
    let client;
    try {
      client = (await clientFor(ctx.paths)).client;
      const fresh = await fetchManifest({
        paths: ctx.paths,
        config: ctx.config,
        client,
        log: ctx.log,
      });
      if (!this.verified || fresh.payload.version >= this.verified.payload.version) {
        this.verified = fresh;
      }
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'manifest not fetched from the server');
    } finally {
      client?.close();
    }
  }
}
