import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { REDIS } from '../../common/redis/redis.module';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { Blob, Lesson, LessonFile, LessonVersion } from './catalog.entities';
import { LessonSearchParams, buildLessonSearch } from './lesson-search';

export interface NewFile {
  path: string;
  sha256: string;
  size: number;
  mediaType: string;
}

const BROAD_COUNT = 5000;
const BROAD_COUNT_TTL = 30;

/** Lessons, their versions and files: the only code that queries these tables. */
@Injectable()
export class LessonsRepository {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @InjectRepository(Lesson) private readonly lessons: Repository<Lesson>,
    @InjectRepository(LessonVersion) private readonly versions: Repository<LessonVersion>,
    @Inject(REDIS) private readonly redis: Redis,
    @InjectRepository(LessonFile) private readonly files: Repository<LessonFile>,
  ) {}

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  findById(id: string): Promise<Lesson | null> {
    return this.lessons.findOneBy({ id });
  }

  async createWithDraft(lesson: Partial<Lesson>): Promise<Lesson> {
    return this.ds.transaction(async (em) => {
      const saved = await em.save(Lesson, em.create(Lesson, { ...lesson, draftVersion: 1 }));
      await em.insert(LessonVersion, { lessonId: saved.id, version: 1, state: 'draft' });
      return saved;
    });
  }

  save(lesson: Lesson): Promise<Lesson> {
    return this.lessons.save(lesson);
  }

  /** The page and the total, as two statements running side by side on two connections. */
  async search(s: LessonSearchParams): Promise<[Lesson[], number]> {
    const { sql, values, countSql, countValues } = buildLessonSearch(s);
    const [rows, total] = await Promise.all([
      this.ds.query<Record<string, unknown>[]>(sql, values),
      this.countMatches(countSql, countValues),
    ]);
    const lessons = rows.map((row) =>
      this.lessons.create({
        id: row.id as string,
        bureauId: row.bureau_id as string,
        title: row.title as string,
        description: row.description as string | null,
        subject: row.subject as string,
        grades: row.grades as number[],
        language: row.language as string,
        curriculumCode: row.curriculum_code as string | null,
        textbookEdition: row.textbook_edition as string | null,
        durationMinutes: row.duration_minutes as number | null,
        tags: row.tags as string[],
        teacherlessReady: row.teacherless_ready as boolean,
        status: row.status as Lesson['status'],
        draftVersion: row.draft_version as number,
        publishedVersion: row.published_version as number | null,
        createdAt: row.created_at as Date,
        updatedAt: row.updated_at as Date,
      }),
    );
    return [lessons, total];
  }

  /**
   * Exact counts, except that a count above BROAD_COUNT (a query matching much of the catalog,
   * such as one Chinese character) is remembered for BROAD_COUNT_TTL seconds: recounting tens of
   * thousands of rows on every page costs more than a total a few seconds old.
   */
  private async countMatches(countSql: string, countValues: unknown[]): Promise<number> {
    const key = `search:count:${createHash('sha256').update(countSql).update(JSON.stringify(countValues)).digest('hex').slice(0, 40)}`;
    const cached = await this.redis.get(key).catch(() => null);
    if (cached !== null) return Number(cached);
    const [row] = await this.ds.query<{ n: number }[]>(countSql, countValues);
    const n = row?.n ?? 0;
    if (n > BROAD_COUNT)
      await this.redis.set(key, String(n), 'EX', BROAD_COUNT_TTL).catch(() => undefined);
    return n;
  }

  listVersions(lessonId: string): Promise<LessonVersion[]> {
    return this.versions.find({ where: { lessonId }, order: { version: 'ASC' } });
  }

  findVersion(lessonId: string, version: number): Promise<LessonVersion | null> {
    return this.versions.findOneBy({ lessonId, version });
  }

  async versionTotals(lessonId: string): Promise<Map<number, { files: number; bytes: number }>> {
    const rows = await this.files
      .createQueryBuilder('f')
      .select('f.version', 'version')
      .addSelect('count(*)::int', 'files')
      .addSelect('coalesce(sum(f.size), 0)::bigint', 'bytes')
      .where('f.lesson_id = :lessonId', { lessonId })
      .groupBy('f.version')
      .getRawMany<{ version: number; files: number; bytes: string }>();
    return new Map(rows.map((r) => [r.version, { files: r.files, bytes: Number(r.bytes) }]));
  }

  listFiles(lessonId: string, version: number, offset: number, limit: number) {
    return this.files.findAndCount({
      where: { lessonId, version },
      order: { path: 'ASC' },
      skip: offset,
      take: limit,
    });
  }

  /**
   * Puts a file into the lesson's current draft under a share lock on the lesson row, so a
   * concurrent publish either sees the file in version N or the upload lands in draft N+1.
   */
  async putDraftFile(
    lessonId: string,
    file: NewFile,
  ): Promise<{ replaced: boolean; version: number }> {
    return this.ds.transaction(async (em) => {
      const lesson = await em
        .createQueryBuilder(Lesson, 'l')
        .setLock('pessimistic_read')
        .where('l.id = :lessonId', { lessonId })
        .getOne();
      if (!lesson) throw new Error('lesson vanished');
      await em
        .createQueryBuilder()
        .insert()
        .into(Blob)
        .values({ sha256: file.sha256, size: file.size, mediaType: file.mediaType })
        .orIgnore()
        .execute();
      const existing = await em.findOneBy(LessonFile, {
        lessonId,
        version: lesson.draftVersion,
        path: file.path,
      });
      await em.upsert(
        LessonFile,
        {
          lessonId,
          version: lesson.draftVersion,
          path: file.path,
          blobSha256: file.sha256,
          size: file.size,
          mediaType: file.mediaType,
        },
        { conflictPaths: ['lessonId', 'version', 'path'] },
      );
      await em.update(Lesson, { id: lessonId }, { updatedAt: new Date() });
      return { replaced: existing !== null, version: lesson.draftVersion };
    });
  }

  async deleteDraftFile(lessonId: string, draftVersion: number, path: string): Promise<boolean> {
    const res = await this.files.delete({ lessonId, version: draftVersion, path });
    return (res.affected ?? 0) > 0;
  }

  /** Freezes draft N as published and opens draft N+1 holding N's files, in one transaction. */
  async publish(
    lessonId: string,
    userId: string,
  ): Promise<{ published: number; draft: number } | 'empty' | 'gone'> {
    return this.ds.transaction(async (em) => {
      const lesson = await em
        .createQueryBuilder(Lesson, 'l')
        .setLock('pessimistic_write')
        .where('l.id = :lessonId', { lessonId })
        .getOne();
      if (!lesson || lesson.status !== 'active') return 'gone';
      const n = lesson.draftVersion;
      const count = await em.countBy(LessonFile, { lessonId, version: n });
      if (count === 0) return 'empty';
      await em.update(
        LessonVersion,
        { lessonId, version: n },
        { state: 'published', publishedAt: new Date(), publishedBy: userId },
      );
      await em.insert(LessonVersion, { lessonId, version: n + 1, state: 'draft' });
      await em.query(
        `INSERT INTO lesson_file (lesson_id, version, path, blob_sha256, size, media_type, created_at)
         SELECT lesson_id, $2, path, blob_sha256, size, media_type, created_at
         FROM lesson_file WHERE lesson_id = $1 AND version = $3`,
        [lessonId, n + 1, n],
      );
      await em.update(Lesson, { id: lessonId }, { draftVersion: n + 1, publishedVersion: n });
      return { published: n, draft: n + 1 };
    });
  }

  async retire(lessonId: string): Promise<void> {
    await this.ds.transaction(async (em) => {
      await em.update(Lesson, { id: lessonId }, { status: 'retired', retiredAt: new Date() });
      await em.update(LessonVersion, { lessonId, state: 'published' }, { state: 'retired' });
    });
  }

  /** Bytes a bureau keeps in the catalog: each distinct blob its lessons reference, once. */
  async bureauUsage(bureauId: string): Promise<number> {
    const [row] = await this.ds.query<{ bytes: string }[]>(
      `SELECT coalesce(sum(b.size), 0)::bigint AS bytes FROM blob b
       WHERE b.sha256 IN (SELECT f.blob_sha256 FROM lesson_file f
                          JOIN lesson l ON l.id = f.lesson_id WHERE l.bureau_id = $1)`,
      [bureauId],
    );
    return Number(row?.bytes ?? 0);
  }

  async bureauHasBlob(bureauId: string, sha256: string): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(
      `SELECT 1 FROM lesson_file f JOIN lesson l ON l.id = f.lesson_id
       WHERE l.bureau_id = $1 AND f.blob_sha256 = $2 LIMIT 1`,
      [bureauId, sha256],
    );
    return rows.length > 0;
  }

  async existingIds(ids: string[]): Promise<Lesson[]> {
    if (ids.length === 0) return [];
    return this.lessons.createQueryBuilder('l').where('l.id IN (:...ids)', { ids }).getMany();
  }
}
