import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SignedEnvelope } from '../protocol/sync';
import { AgentError } from './errors';
import { errnoCode, readJson, writeAtomic, writeJson } from './fs-atomic';
import { AGENT_BUILD_TIME } from './version';

/** Everything the agent keeps lives under one directory (`--dir`). */
export class AgentPaths {
  constructor(readonly root: string) {}
  get config(): string {
    return join(this.root, 'agent.json');
  }
  get token(): string {
    return join(this.root, 'token');
  }
  get keys(): string {
    return join(this.root, 'keys.json');
  }
  get trust(): string {
    return join(this.root, 'trust.json');
  }
  /** The last verified signed manifest, exactly as served (import-usb checks bundles against it). */
  get manifest(): string {
    return join(this.root, 'manifest.json');
  }
  get downloads(): string {
    return join(this.root, 'downloads');
  }
  get work(): string {
    return join(this.root, 'work');
  }
  get library(): string {
    return join(this.root, 'library');
  }
  get releases(): string {
    return join(this.root, 'agent');
  }
}

export interface AgentConfig {
  /** Server root URL, e.g. https://classcast.example.org */
  server: string;
  schoolId: string;
  terminalId: string;
  name: string;
  /** Plain HTTP to a non-loopback server was allowed explicitly at enrollment. */
  insecureHttp: boolean;
  /** Extra CA certificate (PEM path) trusted for the server, e.g. a self-signed one. */
  caFile?: string;
}

export interface PinnedKey {
  keyId: string;
  /** Raw Ed25519 public key, base64. */
  publicKey: string;
}

export interface KeyState {
  /** Every key this terminal trusts: the one pinned at enrollment and those it followed since. */
  keys: PinnedKey[];
  /** keysVersion of the last manifest whose keys were fetched. */
  keysVersion?: number;
}

export interface TrustState {
  /** Version of the last verified manifest: a lower one is a rollback. */
  lastVersion: number;
  /** issuedAt of the last verified manifest: the clock floor. */
  lastIssuedAt?: string;
  etag?: string;
}

export async function loadConfig(
  paths: AgentPaths,
): Promise<{ config: AgentConfig; token: string }> {
  const config = await readJson<AgentConfig>(paths.config);
  let token: string | undefined;
  try {
    token = (await readFile(paths.token, 'utf8')).trim();
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  if (!config || !token) {
    throw new AgentError(
      'not_enrolled',
      `${paths.root} holds no enrollment: run "classcast-agent enroll --server URL --code CODE --dir ${paths.root}" first`,
    );
  }
  return { config, token };
}

export async function saveEnrollment(
  paths: AgentPaths,
  config: AgentConfig,
  token: string,
  keys: PinnedKey[],
): Promise<void> {
  await mkdir(paths.root, { recursive: true, mode: 0o700 });
  await chmod(paths.root, 0o700);
  // The token is the terminal's only credential: readable by the agent's user alone.
  await writeAtomic(paths.token, `${token}\n`, 0o600);
  await chmod(paths.token, 0o600);
  await writeJson(paths.config, config);
  await writeJson(paths.keys, { keys } satisfies KeyState);
  await writeJson(paths.trust, { lastVersion: 0 } satisfies TrustState);
}

export async function loadKeys(paths: AgentPaths): Promise<KeyState> {
  const keys = await readJson<KeyState>(paths.keys);
  if (!keys || keys.keys.length === 0) {
    throw new AgentError('not_enrolled', `${paths.keys} is missing: enroll again`);
  }
  return keys;
}

export const saveKeys = (paths: AgentPaths, keys: KeyState): Promise<void> =>
  writeJson(paths.keys, keys);

export async function loadTrust(paths: AgentPaths): Promise<TrustState> {
  return (await readJson<TrustState>(paths.trust)) ?? { lastVersion: 0 };
}

export const saveTrust = (paths: AgentPaths, trust: TrustState): Promise<void> =>
  writeJson(paths.trust, trust);

export const loadSavedManifest = (paths: AgentPaths): Promise<SignedEnvelope | undefined> =>
  readJson<SignedEnvelope>(paths.manifest);

export const saveManifest = (paths: AgentPaths, envelope: SignedEnvelope): Promise<void> =>
  writeJson(paths.manifest, envelope);

/**
 * "Now" for expiry checks on a terminal whose clock may be wrong: it never goes below the last
 * verified issue time or the agent's build time, so a clock reset to 1970 cannot revive an
 * expired manifest or certificate.
 */
export function trustedNow(trust: TrustState | undefined, clock: () => number = Date.now): number {
  return Math.max(
    clock(),
    trust?.lastIssuedAt ? Date.parse(trust.lastIssuedAt) : 0,
    Date.parse(AGENT_BUILD_TIME),
  );
}
