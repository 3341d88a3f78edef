import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Library } from './library';
import type { AgentLogger } from './log';
import type { VerifiedManifest } from './trust';

export async function haveObject(objects: string, sha256: string): Promise<boolean> {
  try {
    await access(join(objects, sha256));
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs every lesson of the verified manifest that is not installed at its version yet and
 * whose files are all at hand (verified objects or files already in the library).
 */
export async function installReady(
  library: Library,
  verified: VerifiedManifest,
  objects: string,
  log: AgentLogger,
  afterStage?: () => Promise<void>,
): Promise<string[]> {
  const installed: string[] = [];
  for (const lesson of verified.payload.lessons) {
    const index = await library.index();
    if (sameVersion(index.lessons[lesson.lessonId], lesson)) continue;
    const sources = new Map<string, string>();
    for (const f of lesson.files) {
      const local = (await haveObject(objects, f.sha256))
        ? join(objects, f.sha256)
        : await library.findBySha(f.sha256, index);
      if (local) sources.set(f.sha256, local);
    }
    if (lesson.files.some((f) => !sources.has(f.sha256))) continue;
    await library.install(
      lesson,
      verified.meta.get(lesson.lessonId) ?? {},
      (sha) => Promise.resolve(sources.get(sha) as string),
      { afterStage },
    );
    installed.push(lesson.lessonId);
    log.info({ lessonId: lesson.lessonId, version: lesson.version }, 'lesson installed');
  }
  return installed;
}

export function sameVersion(
  installed: { version: number; files: { path: string; sha256: string }[] } | undefined,
  lesson: { version: number; files: { path: string; sha256: string }[] },
): boolean {
  if (!installed || installed.version !== lesson.version) return false;
  if (installed.files.length !== lesson.files.length) return false;
  const want = new Map(lesson.files.map((f) => [f.path, f.sha256]));
  return installed.files.every((f) => want.get(f.path) === f.sha256);
}
