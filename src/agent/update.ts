import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { safeLessonPath } from '../protocol/sync';
import { readJson, writeJson } from './fs-atomic';
import type { Library } from './library';
import type { AgentLogger } from './log';
import type { AgentPaths } from './state';
import { AGENT_VERSION } from './version';

/**
 * Agent updates ride the lesson pipeline: a release is a lesson (assigned to every school like
 * any other) whose files include `classcast-agent-release.json` ({"version": "0.2.0", "entry":
 * "main.js"}). It is downloaded, verified against the signed manifest and installed atomically
 * like a lesson, then copied to DIR/agent/<version>. At start the launcher runs the newest
 * release's `selftest`; one that fails is marked bad and the previous one (finally the built-in
 * agent) runs instead. Releases are never deleted while newer ones are unproven.
 */
export const RELEASE_MARKER = 'classcast-agent-release.json';
const VERSION = /^\d{1,4}\.\d{1,4}\.\d{1,4}$/;

export interface ReleaseInfo {
  version: string;
  entry: string;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i += 1) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

function parseRelease(text: string): ReleaseInfo | undefined {
  try {
    const r = JSON.parse(text) as Partial<ReleaseInfo>;
    if (typeof r.version !== 'string' || !VERSION.test(r.version) || typeof r.entry !== 'string')
      return undefined;
    return { version: r.version, entry: safeLessonPath(r.entry) };
  } catch {
    return undefined;
  }
}

/** Copies installed release lessons newer than anything present to DIR/agent/<version>. */
export async function installReleases(
  paths: AgentPaths,
  library: Library,
  log: AgentLogger,
): Promise<string | undefined> {
  const index = await library.index();
  let newest: string | undefined;
  await mkdir(paths.releases, { recursive: true });
  const present = new Set(await readdir(paths.releases));
  for (const lesson of Object.values(index.lessons)) {
    if (!lesson.files.some((f) => f.path === RELEASE_MARKER)) continue;
    const dir = library.lessonDir(lesson);
    const info = parseRelease(await readFile(join(dir, RELEASE_MARKER), 'utf8'));
    if (!info) {
      log.warn(
        { lessonId: lesson.lessonId },
        'agent release with an invalid classcast-agent-release.json ignored',
      );
      continue;
    }
    if (present.has(info.version) || compareVersions(info.version, AGENT_VERSION) <= 0) continue;
    const stage = join(paths.releases, `.staging-${info.version}`);
    await rm(stage, { recursive: true, force: true });
    await cp(dir, stage, { recursive: true });
    await rename(stage, join(paths.releases, info.version));
    log.info({ version: info.version }, 'agent release installed; the next start runs it');
    if (!newest || compareVersions(info.version, newest) > 0) newest = info.version;
  }
  return newest;
}

interface BadReleases {
  bad: string[];
}

/**
 * Picks the agent to run: the newest release that passes its self-test, else the built-in one.
 * @returns the exit code of a delegated run, or undefined to run the built-in agent in-process
 */
export async function launchNewest(
  root: string,
  argv: string[],
  log: AgentLogger,
): Promise<number | undefined> {
  if (process.env.CLASSCAST_AGENT_LAUNCHED === '1') return undefined;
  const releases = join(root, 'agent');
  let versions: string[];
  try {
    versions = (await readdir(releases)).filter((v) => VERSION.test(v));
  } catch {
    return undefined;
  }
  const badFile = join(releases, 'bad.json');
  const bad = (await readJson<BadReleases>(badFile)) ?? { bad: [] };
  const candidates = versions
    .filter((v) => compareVersions(v, AGENT_VERSION) > 0 && !bad.bad.includes(v))
    .sort(compareVersions)
    .reverse();
  for (const version of candidates) {
    const info = parseRelease(
      await readFile(join(releases, version, RELEASE_MARKER), 'utf8').catch(() => ''),
    );
    if (!info) continue;
    const entry = join(releases, version, info.entry);
    const test = spawnSync(process.execPath, [entry, 'selftest'], {
      timeout: 30_000,
      env: { ...process.env, CLASSCAST_AGENT_LAUNCHED: '1' },
      stdio: 'ignore',
    });
    if (test.status !== 0) {
      bad.bad.push(version);
      await writeJson(badFile, bad);
      log.error(
        { version, status: test.status, signal: test.signal },
        'agent release failed its self-test; falling back to the previous agent',
      );
      continue;
    }
    log.info({ version }, 'starting agent release');
    return new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [entry, ...argv], {
        env: { ...process.env, CLASSCAST_AGENT_LAUNCHED: '1' },
        stdio: 'inherit',
      });
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  }
  return undefined;
}
