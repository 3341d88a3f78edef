import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { Blob, Lesson, LessonFile, LessonVersion } from './catalog.entities';
import { LessonStatusView } from './lessons.dto';

export interface LessonSearch {
  subject?: string;
  grade?: number;
  language?: string;
  status?: LessonStatusView;
  bureauId?: string;
  q?: string;
  /** Non-admins see published lessons and their own bureau's drafts. */
  visibleToBureau?: string | null;
  restrictToPublished?: boolean;
  offset: number;
  limit: number;
}

export interface NewFile {
  path: string;
  sha256: string;
  size: number;
  mediaType: string;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Lessons, their versions and files: the only code that queries these tables. */
@Injectable()
export class LessonsRepository {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @InjectRepository(Lesson) private readonly lessons: Repository<Lesson>,
    @InjectRepository(LessonVersion) private readonly versions: Repository<LessonVersion>,
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

  async search(s: LessonSearch): Promise<[Lesson[], number]> {
    const qb = this.lessons.createQueryBuilder('l');
    if (s.subject) qb.andWhere('l.subject = :subject', { subject: s.subject });
    if (s.grade) qb.andWhere('l.grades @> ARRAY[:grade]::int[]', { grade: s.grade });
    if (s.language) qb.andWhere('l.language = :language', { language: s.language });
    if (s.bureauId) qb.andWhere('l.bureau_id = :bureauId', { bureauId: s.bureauId });
    if (s.status === 'retired') qb.andWhere(`l.status = 'retired'`);
    else qb.andWhere(`l.status = 'active'`);
    if (s.status === 'published') qb.andWhere('l.published_version IS NOT NULL');
    if (s.status === 'draft') qb.andWhere('l.published_version IS NULL');
    if (s.restrictToPublished) {
      if (s.visibleToBureau) {
        qb.andWhere('(l.published_version IS NOT NULL OR l.bureau_id = :own)', {
          own: s.visibleToBureau,
        });
      } else {
        qb.andWhere('l.published_version IS NOT NULL');
      }
    }
    if (s.q) {
      const q = s.q.toLowerCase();
      // Words through the full-text index; any fragment (Chinese titles have no spaces) through trigrams.
      qb.andWhere(
        `(l.search_tsv @@ plainto_tsquery('simple', :q) OR l.search_text LIKE :like ESCAPE '\\')`,
        { q, like: `%${escapeLike(q)}%` },
      );
      qb.orderBy(`ts_rank(l.search_tsv, plainto_tsquery('simple', :q))`, 'DESC');
      qb.addOrderBy('l.created_at', 'DESC');
    } else {
      qb.orderBy('l.created_at', 'DESC');
    }
    qb.addOrderBy('l.id', 'ASC');
    return qb.skip(s.offset).take(s.limit).getManyAndCount();
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
