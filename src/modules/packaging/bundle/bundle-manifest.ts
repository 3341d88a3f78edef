/**
 * manifest.json of a classcast-bundle/1 tar (API.md, "Packaging"). Its bytes are signed, and a
 * rebuilt bundle must be byte-identical, so everything is put in one canonical order here: lessons
 * by lessonId then version, entries by member, targets by lessonId, version, path, and every
 * object's keys in the order of the schema. No wall-clock time goes in.
 */
export const BUNDLE_FORMAT = 'classcast-bundle/1';

export type BundleEncoding = 'identity' | 'zstd' | 'zstd-patch';

export interface BundleAudience {
  type: 'school' | 'group';
  id: string;
}

export interface BundleLesson {
  lessonId: string;
  version: number;
}

export interface BundleTarget {
  lessonId: string;
  version: number;
  path: string;
}

export interface BundleEntry {
  /** `files/<sha256>`, `files/<sha256>.zst` or `patches/<base>-<sha256>.zst`. */
  member: string;
  encoding: BundleEncoding;
  /** sha256 of the file a zstd-patch applies to (the version the audience holds). */
  base?: string;
  /** sha256 and size of the file the entry produces once decoded. */
  sha256: string;
  size: number;
  targets: BundleTarget[];
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  bundleId: string;
  audience: BundleAudience;
  lessons: BundleLesson[];
  entries: BundleEntry[];
}

export const MANIFEST_MEMBER = 'manifest.json';
export const MANIFEST_SIGNATURE_MEMBER = 'manifest.json.minisig';

export function memberName(encoding: BundleEncoding, sha256: string, base?: string): string {
  switch (encoding) {
    case 'identity':
      return `files/${sha256}`;
    case 'zstd':
      return `files/${sha256}.zst`;
    case 'zstd-patch':
      return `patches/${base}-${sha256}.zst`;
  }
}

/** The trusted comment of both the manifest's and the whole bundle's minisign signature. */
export function bundleTrustedComment(bundleId: string): string {
  return `bundle:${bundleId}`;
}

/** Ordinal (code unit) order: localeCompare would depend on the machine's ICU data and locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareLessons(a: BundleLesson, b: BundleLesson): number {
  return compareText(a.lessonId, b.lessonId) || a.version - b.version;
}

function compareTargets(a: BundleTarget, b: BundleTarget): number {
  return compareLessons(a, b) || compareText(a.path, b.path);
}

/** Sorts, removes duplicates and rebuilds every object with its keys in schema order. */
export function canonicalManifest(manifest: BundleManifest): BundleManifest {
  return {
    format: BUNDLE_FORMAT,
    bundleId: manifest.bundleId,
    audience: { type: manifest.audience.type, id: manifest.audience.id },
    lessons: uniqueSorted(manifest.lessons, compareLessons).map((l) => ({
      lessonId: l.lessonId,
      version: l.version,
    })),
    entries: [...manifest.entries]
      .sort((a, b) => compareText(a.member, b.member))
      .map((e) => ({
        member: e.member,
        encoding: e.encoding,
        ...(e.base === undefined ? {} : { base: e.base }),
        sha256: e.sha256,
        size: e.size,
        targets: uniqueSorted(e.targets, compareTargets).map((t) => ({
          lessonId: t.lessonId,
          version: t.version,
          path: t.path,
        })),
      })),
  };
}

/** The exact manifest.json bytes: canonical, indented for people opening the tar by hand. */
export function serializeManifest(manifest: BundleManifest): string {
  return `${JSON.stringify(canonicalManifest(manifest), null, 2)}\n`;
}

export function uniqueSorted<T>(items: readonly T[], compare: (a: T, b: T) => number): T[] {
  const sorted = [...items].sort(compare);
  return sorted.filter((item, i) => i === 0 || compare(sorted[i - 1], item) !== 0);
}
