import { createHash } from 'node:crypto';
import type {
  SyncManifestBundle,
  SyncManifestLesson,
  SyncManifestPayload,
  SyncManifestRemoval,
} from '../../protocol/sync';
import { SYNC_PATHS } from '../../protocol/sync';
import { stableJson } from '../packaging/planning.service';

/** What a school wants (live assignments of published lessons), with its most urgent priority. */
export interface WantedLesson {
  lessonId: string;
  version: number;
  priority: number;
  title?: string;
  subject?: string;
  grades?: number[];
}

export interface ReadyBundle {
  id: string;
  sha256: string;
  size: number;
  lessons: { lessonId: string; version: number }[];
}

export interface ManifestInputs {
  schoolId: string;
  keyId: string;
  keysVersion: number;
  wanted: WantedLesson[];
  /** lessonId -> version the school holds (every active terminal has it). */
  held: Map<string, number>;
  /** Lessons some active terminal reported, for removals the school holding does not see. */
  reported: Set<string>;
  bundles: ReadyBundle[];
  /** Files each lesson version installs, `${lessonId}@${version}` -> files; absent = not settled yet. */
  files: Map<string, SyncManifestLesson['files']>;
}

export interface ManifestState {
  lessons: SyncManifestLesson[];
  bundles: SyncManifestBundle[];
  remove: SyncManifestRemoval[];
  /** Hash over everything but time: equal hashes need no new version. */
  stateHash: string;
}

const DEFAULT_PRIORITY = 5;
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export const lessonKey = (lessonId: string, version: number) => `${lessonId}@${version}`;

/**
 * The school's desired installed state as far as it can be installed now: a wanted lesson at its
 * published version when a ready bundle brings it or the school holds it, else the version the
 * school already holds (kept until the new one arrives); `remove` is what terminals hold but
 * nothing wants any more.
 */
export function manifestState(input: ManifestInputs): ManifestState {
  const carried = new Set<string>();
  for (const b of input.bundles)
    for (const l of b.lessons) carried.add(lessonKey(l.lessonId, l.version));
  const lessons: SyncManifestLesson[] = [];
  for (const w of [...input.wanted].sort((a, b) => byText(a.lessonId, b.lessonId))) {
    const held = input.held.get(w.lessonId);
    let version: number | null = null;
    if (carried.has(lessonKey(w.lessonId, w.version)) || held === w.version) version = w.version;
    else if (held !== undefined && held < w.version) version = held;
    if (version === null) continue;
    const files = input.files.get(lessonKey(w.lessonId, version));
    if (!files) continue;
    lessons.push({
      lessonId: w.lessonId,
      version,
      files: [...files].sort((a, b) => byText(a.path, b.path)),
      ...(w.title !== undefined ? { title: w.title } : {}),
      ...(w.subject !== undefined ? { subject: w.subject } : {}),
      ...(w.grades !== undefined ? { grades: w.grades } : {}),
    });
  }
  const wantedIds = new Set(input.wanted.map((w) => w.lessonId));
  const priorityOf = new Map(input.wanted.map((w) => [w.lessonId, w.priority]));
  const bundles: SyncManifestBundle[] = input.bundles
    .map((b) => ({
      id: b.id,
      url: SYNC_PATHS.bundle(b.id),
      size: b.size,
      sha256: b.sha256,
      priority: Math.min(
        DEFAULT_PRIORITY,
        ...b.lessons.map((l) => priorityOf.get(l.lessonId) ?? DEFAULT_PRIORITY),
      ),
    }))
    .sort((a, b) => a.priority - b.priority || byText(a.id, b.id));
  const remove = [...new Set([...input.held.keys(), ...input.reported])]
    .filter((id) => !wantedIds.has(id))
    .sort(byText)
    .map((lessonId) => ({ lessonId }));
  const stateHash = createHash('sha256')
    .update(
      stableJson({
        schoolId: input.schoolId,
        keyId: input.keyId,
        keysVersion: input.keysVersion,
        lessons,
        bundles,
        remove,
      }),
    )
    .digest('hex');
  return { lessons, bundles, remove, stateHash };
}

/**
 * Seconds until the next poll: the base period moved by up to +-jitter percent, chosen per school
 * and version so that 64,000 terminals do not poll in step yet a re-signed state stays stable.
 */
export function nextPollSeconds(
  schoolId: string,
  version: number,
  baseSeconds: number,
  jitterPercent: number,
): number {
  const h = createHash('sha256').update(`${schoolId}:${version}`).digest().readUInt32BE(0);
  const unit = h / 0xffffffff; // 0..1
  const spread = (baseSeconds * jitterPercent) / 100;
  return Math.max(1, Math.round(baseSeconds - spread + 2 * spread * unit));
}

/** RFC 3339 without milliseconds. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function manifestPayload(
  schoolId: string,
  state: ManifestState,
  meta: {
    version: number;
    issuedAt: Date;
    expires: Date;
    keysVersion: number;
    nextPollSeconds: number;
  },
): SyncManifestPayload {
  return {
    schoolId,
    version: meta.version,
    issuedAt: rfc3339(meta.issuedAt),
    expires: rfc3339(meta.expires),
    keysVersion: meta.keysVersion,
    nextPollSeconds: meta.nextPollSeconds,
    lessons: state.lessons,
    bundles: state.bundles,
    remove: state.remove,
  };
}
