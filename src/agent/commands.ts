import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { blake2bOfFile, verifyMinisign } from '../modules/packaging/bundle/minisign';
import { installReady } from './sync-install';
import { SYNC_PATHS, bundleTrustedComment, type EnrollResponse } from '../protocol/sync';
import { sha256File, unpackBundle } from './bundle';
import { downloadRanges } from './download';
import { AgentError, isTransient } from './errors';
import { errnoCode } from './fs-atomic';
import { HttpClient } from './http';
import { Library } from './library';
import type { AgentLogger } from './log';
import { TokenBucket, backoffMs, sleep } from './rate';
import {
  AgentPaths,
  loadConfig,
  loadKeys,
  loadSavedManifest,
  loadTrust,
  saveEnrollment,
  trustedNow,
  type AgentConfig,
} from './state';
import { sendInventory, sendReceipt, syncOnce, type SyncOutcome } from './sync';
import { verifyManifest } from './trust';
import { installReleases } from './update';
import { AGENT_VERSION } from './version';
import { msUntilWindow, parseWindow } from './windows';

export type Flags = Record<string, string | boolean | string[]>;

export const str = (flags: Flags, name: string): string | undefined => {
  const v = flags[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? v[v.length - 1] : undefined;
};
export const num = (flags: Flags, name: string, min: number, max: number): number | undefined => {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new AgentError('usage', `--${name} must be a number from ${min} to ${max}`);
  }
  return n;
};
const list = (flags: Flags, name: string): string[] => {
  const v = flags[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
};

export function dirOf(flags: Flags): AgentPaths {
  return new AgentPaths(
    str(flags, 'dir') ?? process.env.CLASSCAST_AGENT_DIR ?? '/var/lib/classcast-agent',
  );
}

export async function clientFor(
  paths: AgentPaths,
  idleTimeoutMs?: number,
  clock?: () => number,
): Promise<{ client: HttpClient; config: AgentConfig }> {
  const { config, token } = await loadConfig(paths);
  const trust = await loadTrust(paths);
  const caPem = config.caFile ? await readFile(config.caFile, 'utf8') : undefined;
  const client = new HttpClient({
    server: config.server,
    token,
    insecureHttp: config.insecureHttp,
    caPem,
    now: () => trustedNow(trust, clock),
    idleTimeoutMs,
    userAgent: `classcast-agent/${AGENT_VERSION}`,
  });
  return { client, config };
}

/** One agent process per directory: a second one would race on the library. */
export async function withLock<T>(paths: AgentPaths, fn: () => Promise<T>): Promise<T> {
  await mkdir(paths.root, { recursive: true });
  const lock = join(paths.root, 'lock');
  for (let tries = 0; ; tries += 1) {
    try {
      const h = await open(lock, 'wx');
      await h.writeFile(String(process.pid));
      await h.close();
      break;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST' || tries > 0) {
        throw new AgentError('usage', `another agent is running on ${paths.root} (${lock})`);
      }
      const pid = Number(await readFile(lock, 'utf8').catch(() => ''));
      if (pid > 0 && alive(pid))
        throw new AgentError('usage', `another agent (pid ${pid}) is running on ${paths.root}`);
      await unlink(lock).catch(() => undefined);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

export async function enroll(flags: Flags, log: AgentLogger): Promise<void> {
  const server = str(flags, 'server');
  const code = str(flags, 'code');
  if (!server || !code) throw new AgentError('usage', 'enroll needs --server URL and --code CODE');
  const paths = dirOf(flags);
  const caFile = str(flags, 'ca');
  const client = new HttpClient({
    server,
    insecureHttp: flags['insecure-http'] === true,
    caPem: caFile ? await readFile(caFile, 'utf8') : undefined,
    now: () => trustedNow(undefined),
  });
  try {
    const name = str(flags, 'name') ?? hostname();
    const { body } = await client.json<EnrollResponse>(SYNC_PATHS.enroll, {
      method: 'POST',
      json: { code, name, agentVersion: AGENT_VERSION },
    });
    if (
      !body?.token ||
      !body.schoolId ||
      !Array.isArray(body.signingKeys) ||
      body.signingKeys.length === 0
    ) {
      throw new AgentError(
        'server_refused',
        'the server answered the enrollment without a token or keys',
      );
    }
    await saveEnrollment(
      paths,
      {
        server: client.base.origin,
        schoolId: body.schoolId,
        terminalId: body.terminalId,
        name,
        insecureHttp: flags['insecure-http'] === true,
        ...(caFile ? { caFile } : {}),
      },
      body.token,
      body.signingKeys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKey })),
    );
    log.info(
      {
        terminalId: body.terminalId,
        schoolId: body.schoolId,
        keys: body.signingKeys.map((k) => k.keyId),
      },
      'enrolled',
    );
    process.stdout.write(`enrolled terminal ${body.terminalId} of school ${body.schoolId}\n`);
  } finally {
    client.close();
  }
}

export interface SyncFlagsResult {
  outcome?: SyncOutcome;
  exitCode: number;
}

/**
 * `sync`: one pass (retrying transient failures with backoff), or `--loop`: forever, sleeping
 * nextPollSeconds between passes and honouring Retry-After.
 */
export async function sync(flags: Flags, log: AgentLogger): Promise<number> {
  const paths = dirOf(flags);
  const windows = list(flags, 'window').map((w) => {
    try {
      return parseWindow(w);
    } catch (err) {
      throw new AgentError('usage', (err as Error).message);
    }
  });
  const attempts = num(flags, 'attempts', 1, 1000) ?? 6;
  const retryBaseMs = num(flags, 'retry-base-ms', 1, 3_600_000) ?? 2000;
  const opts = {
    connections: num(flags, 'connections', 1, 16) ?? 1,
    bucket: TokenBucket.fromKbps(num(flags, 'max-kbps', 1, 10_000_000)),
    windows,
    retryBaseMs,
    idleTimeoutMs: num(flags, 'idle-timeout-ms', 100, 3_600_000),
  };
  const loop = flags.loop === true;
  return withLock(paths, async () => {
    let failures = 0;
    for (;;) {
      const { client, config } = await clientFor(paths, opts.idleTimeoutMs);
      let waitMs: number;
      try {
        const outcome = await syncOnce({ paths, config, client, log }, opts);
        failures = 0;
        log.info(
          {
            complete: outcome.complete,
            version: outcome.manifestVersion,
            installed: outcome.installed.length,
            removed: outcome.removed.length,
            bytesReceived: outcome.bytesReceived,
          },
          outcome.complete ? 'library matches the manifest' : 'library incomplete',
        );
        if (outcome.newRelease && loop) {
          log.info({ version: outcome.newRelease }, 'restarting into the new agent release');
          return 75;
        }
        if (!loop) return outcome.complete ? 0 : 1;
        waitMs = outcome.nextPollSeconds * 1000;
      } catch (err) {
        const e = err instanceof AgentError ? err : undefined;
        if (e?.code === 'outside_window') {
          if (!loop) throw err;
          waitMs = Math.max(60_000, msUntilWindow(windows));
          log.info({ waitMs }, 'outside the receive window; waiting');
        } else {
          failures += 1;
          const transient = isTransient(err) || e?.code === 'disk_full';
          if (!loop && (!transient || failures >= attempts)) throw err;
          waitMs =
            e?.retryAfterSeconds !== undefined
              ? e.retryAfterSeconds * 1000
              : backoffMs(failures, retryBaseMs, loop ? 3_600_000 : 300_000);
          log.warn(
            { err: (err as Error).message, failures, retryInMs: waitMs },
            'sync failed; retrying after a pause',
          );
        }
      } finally {
        client.close();
      }
      await sleep(waitMs);
    }
  });
}

/** `verify`: re-hash the library and repair damaged files from /sync/files/:sha256. */
export async function verify(flags: Flags, log: AgentLogger): Promise<number> {
  const paths = dirOf(flags);
  return withLock(paths, async () => {
    const library = new Library(paths.library, log);
    await library.recover();
    const damaged = await library.damaged();
    if (damaged.length === 0) {
      process.stdout.write('library verified: every file matches its manifest\n');
      return 0;
    }
    log.warn(
      { files: damaged.map((d) => `${d.lesson.lessonId}/${d.path}`) },
      'damaged files found',
    );
    const { client, config } = await clientFor(paths);
    const repairDir = join(paths.work, 'repair');
    await mkdir(repairDir, { recursive: true });
    let repaired = 0;
    try {
      for (const d of damaged) {
        const size = d.lesson.files.find((f) => f.path === d.path)?.size ?? 0;
        const partial = join(repairDir, `${d.sha256}.part`);
        try {
          await downloadRanges(
            { url: SYNC_PATHS.file(d.sha256), size, sha256: d.sha256, partial },
            { client, log },
          );
          if ((await sha256File(partial)) !== d.sha256)
            throw new AgentError('server_unavailable', 'repair copy arrived damaged');
          await library.replaceFile(d.lesson, d.path, partial);
          repaired += 1;
          log.info({ lessonId: d.lesson.lessonId, path: d.path }, 'file repaired');
        } catch (err) {
          log.error(
            { lessonId: d.lesson.lessonId, path: d.path, err: (err as Error).message },
            'file not repaired',
          );
        } finally {
          await unlink(partial).catch(() => undefined);
          await unlink(`${partial}.json`).catch(() => undefined);
        }
      }
      await sendInventory({ paths, config, client, log }, library);
    } finally {
      client.close();
    }
    process.stdout.write(`${damaged.length} damaged, ${repaired} repaired\n`);
    return repaired === damaged.length ? 0 : 1;
  });
}

/**
 * `import-usb PATH`: a bundle carried by hand. It must be listed (by sha256) in the last signed
 * manifest this terminal verified, which must not have expired; the same member checks as a
 * download apply. A `<PATH>.minisig` next to it is checked too when present.
 */
export async function importUsb(
  flags: Flags,
  file: string | undefined,
  log: AgentLogger,
): Promise<number> {
  if (!file) throw new AgentError('usage', 'import-usb needs the path of a bundle .tar');
  const paths = dirOf(flags);
  return withLock(paths, async () => {
    const { config } = await loadConfig(paths);
    const saved = await loadSavedManifest(paths);
    if (!saved)
      throw new AgentError(
        'usb_refused',
        'no signed manifest saved yet: sync once online before importing bundles by hand',
      );
    const trust = await loadTrust(paths);
    const keys = (await loadKeys(paths)).keys;
    const verified = verifyManifest(saved, keys, {
      schoolId: config.schoolId,
      lastVersion: trust.lastVersion,
      now: trustedNow(trust),
    });
    const sha = await sha256File(file);
    const listed = verified.payload.bundles.find((b) => b.sha256 === sha);
    if (!listed)
      throw new AgentError(
        'usb_refused',
        `refused ${file}: its sha256 ${sha} is not in the signed manifest of this school; nothing installed`,
      );
    const sigText = await readFile(`${file}.minisig`, 'utf8').catch(() => undefined);
    if (sigText !== undefined) {
      const keyId = Buffer.from(sigText.split('\n')[1] ?? '', 'base64')
        .subarray(2, 10)
        .toString('hex');
      const key = keys.find((k) => k.keyId === keyId);
      const v = key
        ? verifyMinisign({ blake2b512: await blake2bOfFile(file) }, sigText, {
            keyId,
            publicKey: Buffer.from(key.publicKey, 'base64'),
          })
        : undefined;
      if (!v?.valid || v.trustedComment !== bundleTrustedComment(listed.id)) {
        throw new AgentError(
          'usb_refused',
          `refused ${file}: ${file}.minisig does not verify with a trusted key; nothing installed`,
        );
      }
    }
    const library = new Library(paths.library, log);
    await library.recover();
    const objects = join(paths.work, 'objects');
    await mkdir(objects, { recursive: true });
    const unpacked = await unpackBundle(file, {
      bundleId: listed.id,
      keys,
      manifest: verified.payload,
      objectsDir: objects,
      findLocal: (s) => library.findBySha(s),
    });
    if (unpacked.bad.length > 0)
      throw new AgentError('usb_refused', `refused ${file}: damaged members; nothing installed`);
    const installed = await installReady(library, verified, objects, log);
    await installReleases(paths, library, log);
    process.stdout.write(`imported ${installed.length} lesson(s) from ${file}\n`);
    // Tell the server when a link exists; offline the next sync's inventory says the same.
    const { client } = await clientFor(paths);
    try {
      await sendReceipt(
        { paths, config, client, log },
        { bundleId: listed.id, state: 'installed', bytesReceived: 0, via: 'usb' },
      );
    } finally {
      client.close();
    }
    return 0;
  });
}
