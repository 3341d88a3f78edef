import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { SyncManifestLesson } from '../protocol/sync';
import { safeLessonPath } from '../protocol/sync';
import { diskError } from './download';
import { errnoCode, readJson, syncDir, writeJson } from './fs-atomic';
import type { AgentLogger } from './log';
import type { LessonMeta } from './trust';

/**
 * Crash testing: CLASSCAST_AGENT_TEST_KILL_AT_STEP=N makes the process SIGKILL itself at the Nth
 * durable step of an install or removal, so tests can crash it at every point, not only where a
 * timer happens to land. Unset in production.
 */
const killAtStep = Number(process.env.CLASSCAST_AGENT_TEST_KILL_AT_STEP ?? 0);
let steps = 0;
function step(): void {
  steps += 1;
  if (killAtStep > 0 && steps === killAtStep) process.kill(process.pid, 'SIGKILL');
}

export interface InstalledLesson {
  lessonId: string;
  version: number;
  /** Directory name under lessons/<lessonId>/ holding this version. */
  dir: string;
  files: { path: string; sha256: string; size: number }[];
  meta: LessonMeta;
  installedAt: string;
}

export interface LibraryIndex {
  lessons: Record<string, InstalledLesson>;
}

interface JournalRecord {
  op: 'install' | 'remove';
  lessonId: string;
  version?: number;
  dir?: string;
  at: string;
}

/**
 * The installed lessons. Each version lives in its own directory, built under .staging and
 * renamed into place whole; index.json (replaced atomically) is the only thing that makes a
 * version visible, so a reader or a crash sees the old version or the new one, never half of
 * one. journal.json records the operation in progress; recover() finishes the story after a
 * crash: staging leftovers and directories the index does not point at are removed.
 */
export class Library {
  constructor(
    readonly root: string,
    private readonly log?: AgentLogger,
  ) {}

  get indexPath(): string {
    return join(this.root, 'index.json');
  }
  private get journalPath(): string {
    return join(this.root, 'journal.json');
  }
  private get staging(): string {
    return join(this.root, '.staging');
  }
  lessonDir(l: Pick<InstalledLesson, 'lessonId' | 'dir'>): string {
    return join(this.root, 'lessons', l.lessonId, l.dir);
  }

  async index(): Promise<LibraryIndex> {
    return (await readJson<LibraryIndex>(this.indexPath)) ?? { lessons: {} };
  }

  async recover(): Promise<void> {
    await mkdir(join(this.root, 'lessons'), { recursive: true });
    const journal = await readJson<JournalRecord>(this.journalPath);
    if (journal) this.log?.warn({ journal }, 'finishing an operation interrupted by a crash');
    await rm(this.staging, { recursive: true, force: true });
    const index = await this.index();
    for (const lessonId of await readdir(join(this.root, 'lessons'))) {
      const current = index.lessons[lessonId];
      const dirs = await readdir(join(this.root, 'lessons', lessonId));
      for (const dir of dirs) {
        if (current?.dir === dir) continue;
        await rm(join(this.root, 'lessons', lessonId, dir), { recursive: true, force: true });
      }
      if (!current)
        await rm(join(this.root, 'lessons', lessonId), { recursive: true, force: true });
    }
    if (journal) await rm(this.journalPath, { force: true });
  }

  /** A local file with this content, for patch bases and unchanged files. */
  async findBySha(sha256: string, index?: LibraryIndex): Promise<string | undefined> {
    const idx = index ?? (await this.index());
    for (const lesson of Object.values(idx.lessons)) {
      const f = lesson.files.find((x) => x.sha256 === sha256);
      if (f) return join(this.lessonDir(lesson), f.path);
    }
    return undefined;
  }

  /**
   * Installs one lesson version atomically. `source(sha256)` gives a verified local file with
   * that content (the object store or another installed lesson).
   */
  async install(
    lesson: SyncManifestLesson,
    meta: LessonMeta,
    source: (sha256: string) => Promise<string>,
    hooks: { afterStage?: () => Promise<void> } = {},
  ): Promise<void> {
    const dir = `v${lesson.version}-${randomBytes(4).toString('hex')}`;
    const stage = join(this.staging, `${lesson.lessonId}-${dir}`);
    step();
    await this.writeJournal({
      op: 'install',
      lessonId: lesson.lessonId,
      version: lesson.version,
      dir,
    });
    try {
      await mkdir(stage, { recursive: true });
      for (const f of lesson.files) {
        const target = join(stage, safeLessonPath(f.path));
        await mkdir(dirname(target), { recursive: true });
        await placeFile(await source(f.sha256), target);
        step();
      }
      await hooks.afterStage?.();
      step();
      const finalDir = join(this.root, 'lessons', lesson.lessonId, dir);
      await mkdir(dirname(finalDir), { recursive: true });
      await rename(stage, finalDir);
      step();
      await syncDir(dirname(finalDir));
      const index = await this.index();
      const previous = index.lessons[lesson.lessonId];
      index.lessons[lesson.lessonId] = {
        lessonId: lesson.lessonId,
        version: lesson.version,
        dir,
        files: lesson.files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })),
        meta,
        installedAt: new Date().toISOString(),
      };
      await writeJson(this.indexPath, index);
      step();
      if (previous && previous.dir !== dir) {
        await rm(this.lessonDir(previous), { recursive: true, force: true });
        step();
      }
    } catch (err) {
      await rm(stage, { recursive: true, force: true }).catch(() => undefined);
      throw diskError(err, stage);
    }
    await rm(this.journalPath, { force: true });
  }

  async remove(lessonId: string): Promise<boolean> {
    const index = await this.index();
    const current = index.lessons[lessonId];
    if (!current) return false;
    await this.writeJournal({ op: 'remove', lessonId, dir: current.dir });
    delete index.lessons[lessonId];
    await writeJson(this.indexPath, index);
    step();
    await rm(join(this.root, 'lessons', lessonId), { recursive: true, force: true });
    step();
    await rm(this.journalPath, { force: true });
    return true;
  }

  /** Files whose bytes no longer hash to what was installed (bit rot, a bad disk, tampering). */
  async damaged(): Promise<{ lesson: InstalledLesson; path: string; sha256: string }[]> {
    const bad: { lesson: InstalledLesson; path: string; sha256: string }[] = [];
    const index = await this.index();
    for (const lesson of Object.values(index.lessons)) {
      for (const f of lesson.files) {
        const full = join(this.lessonDir(lesson), f.path);
        let actual: string | undefined;
        try {
          const hash = createHash('sha256');
          await pipeline(createReadStream(full), hash);
          actual = hash.digest('hex');
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') throw err;
        }
        if (actual !== f.sha256) bad.push({ lesson, path: f.path, sha256: f.sha256 });
      }
    }
    return bad;
  }

  /** Replaces one damaged file by a verified copy (rename over it: readers see old or new). */
  async replaceFile(lesson: InstalledLesson, path: string, verifiedCopy: string): Promise<void> {
    const target = join(this.lessonDir(lesson), safeLessonPath(path));
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${randomBytes(4).toString('hex')}.repair`;
    await copyFile(verifiedCopy, temp);
    await rename(temp, target);
  }

  private writeJournal(record: Omit<JournalRecord, 'at'>): Promise<void> {
    return writeJson(this.journalPath, { ...record, at: new Date().toISOString() });
  }
}

/** A hard link when possible (same bytes, no copy); a copy across file systems. */
async function placeFile(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    await copyFile(from, to);
  }
}
