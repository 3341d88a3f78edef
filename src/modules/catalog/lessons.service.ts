import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error';
import { Page, PageQuery, page, all } from '../../common/http/pagination';
import { canonicalLanguage } from '../../common/validation/domain';
import { Principal, isAdmin } from '../auth/principal';
import { RegionsService } from '../regions/regions.service';
import { Lesson, LessonFile } from './catalog.entities';
import {
  CreateLessonDto,
  FileView,
  LessonStatusView,
  LessonView,
  ListLessonsQuery,
  RenditionView,
  UpdateLessonDto,
  VersionView,
} from './lessons.dto';
import { LessonsRepository } from './lessons.repository';
import { normaliseSearchText, searchGramsOf } from './lesson-search';

/** Title, tags, then description: grams come from the start, so titles and tags count most. */
export function searchTextOf(l: Pick<Lesson, 'title' | 'description' | 'tags'>): string {
  return normaliseSearchText([l.title, ...(l.tags ?? []), l.description ?? ''].join(' '));
}

function statusOf(l: Lesson): LessonStatusView {
  if (l.status === 'retired') return 'retired';
  return l.publishedVersion === null ? 'draft' : 'published';
}

export const toLessonView = (l: Lesson): LessonView => ({
  id: l.id,
  bureauId: l.bureauId,
  title: l.title,
  description: l.description,
  subject: l.subject,
  grades: l.grades,
  language: l.language,
  curriculumCode: l.curriculumCode,
  textbookEdition: l.textbookEdition,
  durationMinutes: l.durationMinutes,
  tags: l.tags,
  teacherlessReady: l.teacherlessReady,
  status: statusOf(l),
  draftVersion: l.draftVersion,
  publishedVersion: l.publishedVersion,
  createdAt: l.createdAt.toISOString(),
  updatedAt: l.updatedAt.toISOString(),
});

export const toFileView = (f: LessonFile): FileView => ({
  path: f.path,
  size: f.size,
  sha256: f.blobSha256.trim(),
  mediaType: f.mediaType,
  renditions: [],
});

/** Who may do what with a lesson: the rules every catalog route goes through. */
export function canWrite(p: Principal, lesson: Lesson): boolean {
  return isAdmin(p) || (p.role === 'bureau' && p.bureauId === lesson.bureauId);
}

function canReadDrafts(p: Principal, lesson: Lesson): boolean {
  return isAdmin(p) || (p.bureauId !== null && p.bureauId === lesson.bureauId);
}

export type LessonListener = (lessonId: string, version: number | null) => Promise<void>;

@Injectable()
export class LessonsService {
  private readonly published: LessonListener[] = [];
  private readonly retired: LessonListener[] = [];

  /** Other features follow the catalog without the catalog depending on them. */
  onPublished(listener: LessonListener): void {
    this.published.push(listener);
  }

  private renditionLookup: ((sha256s: string[]) => Promise<Map<string, RenditionView[]>>) | null =
    null;

  /** The media feature tells file listings which renditions exist, per source sha256. */
  setRenditionLookup(lookup: (sha256s: string[]) => Promise<Map<string, RenditionView[]>>): void {
    this.renditionLookup = lookup;
  }

  onRetired(listener: LessonListener): void {
    this.retired.push(listener);
  }

  constructor(
    private readonly repo: LessonsRepository,
    private readonly regions: RegionsService,
  ) {}

  async create(p: Principal, dto: CreateLessonDto): Promise<LessonView> {
    let bureauId = p.bureauId;
    if (isAdmin(p)) {
      bureauId = dto.bureauId ?? p.bureauId;
      if (!bureauId || !(await this.regions.findBureau(bureauId))) {
        throw new AppError('validation_failed', 'Name the bureau that owns this lesson', [
          { field: 'bureauId', message: 'an existing bureau id is required for admins' },
        ]);
      }
    } else if (dto.bureauId !== undefined && dto.bureauId !== p.bureauId) {
      throw new AppError('validation_failed', 'Bureau users create lessons for their own bureau', [
        { field: 'bureauId', message: 'must be omitted or your own bureau' },
      ]);
    }
    if (!bureauId) throw new AppError('forbidden', 'Only bureau users and admins create lessons');
    const fields = {
      title: dto.title,
      description: dto.description ?? null,
      tags: dto.tags ?? [],
    };
    const lesson = await this.repo.createWithDraft({
      ...fields,
      bureauId,
      subject: dto.subject,
      grades: [...dto.grades].sort((a, b) => a - b),
      language: canonicalLanguage(dto.language) ?? dto.language,
      curriculumCode: dto.curriculumCode ?? null,
      textbookEdition: dto.textbookEdition ?? null,
      durationMinutes: dto.durationMinutes ?? null,
      teacherlessReady: dto.teacherlessReady ?? false,
      searchText: searchTextOf(fields),
      searchGrams: searchGramsOf(searchTextOf(fields)),
      createdBy: p.id,
    });
    return toLessonView(lesson);
  }

  async list(p: Principal, query: ListLessonsQuery): Promise<Page<LessonView>> {
    const [rows, total] = await this.repo.search({
      subject: query.subject,
      grade: query.grade,
      language: query.language ? (canonicalLanguage(query.language) ?? undefined) : undefined,
      status: query.status,
      bureauId: query.bureauId,
      q: query.q ? query.q.normalize('NFKC') : undefined,
      restrictToPublished: !isAdmin(p),
      visibleToBureau: p.bureauId,
      offset: (query.page - 1) * query.pageSize,
      limit: query.pageSize,
    });
    return page(rows.map(toLessonView), total, query);
  }

  /** A lesson the caller may see; 404 otherwise (existence never leaks). */
  async readable(p: Principal, id: string): Promise<Lesson> {
    const lesson = await this.repo.findById(id);
    if (!lesson || (lesson.publishedVersion === null && !canReadDrafts(p, lesson))) {
      throw AppError.notFound('Lesson');
    }
    return lesson;
  }

  /** A lesson the caller may change; another bureau's lesson answers 404 like a missing one. */
  async writable(p: Principal, id: string): Promise<Lesson> {
    const lesson = await this.repo.findById(id);
    if (!lesson || !canWrite(p, lesson)) throw AppError.notFound('Lesson');
    if (lesson.status === 'retired') {
      throw new AppError('lesson_retired', 'This lesson is retired; create a new lesson instead');
    }
    return lesson;
  }

  async get(p: Principal, id: string): Promise<LessonView> {
    return toLessonView(await this.readable(p, id));
  }

  async update(p: Principal, id: string, dto: UpdateLessonDto): Promise<LessonView> {
    const lesson = await this.writable(p, id);
    if (dto.title !== undefined) lesson.title = dto.title;
    if (dto.description !== undefined) lesson.description = dto.description;
    if (dto.subject !== undefined) lesson.subject = dto.subject;
    if (dto.grades !== undefined) lesson.grades = [...dto.grades].sort((a, b) => a - b);
    if (dto.language !== undefined)
      lesson.language = canonicalLanguage(dto.language) ?? dto.language;
    if (dto.curriculumCode !== undefined) lesson.curriculumCode = dto.curriculumCode;
    if (dto.textbookEdition !== undefined) lesson.textbookEdition = dto.textbookEdition;
    if (dto.durationMinutes !== undefined) lesson.durationMinutes = dto.durationMinutes;
    if (dto.tags !== undefined) lesson.tags = dto.tags;
    if (dto.teacherlessReady !== undefined) lesson.teacherlessReady = dto.teacherlessReady;
    lesson.searchText = searchTextOf(lesson);
    lesson.searchGrams = searchGramsOf(lesson.searchText);
    return toLessonView(await this.repo.save(lesson));
  }

  async retire(p: Principal, id: string): Promise<void> {
    await this.writable(p, id);
    await this.repo.retire(id);
    for (const listener of this.retired) await listener(id, null);
  }

  async publish(p: Principal, id: string): Promise<LessonView> {
    await this.writable(p, id);
    const outcome = await this.repo.publish(id, p.id);
    if (outcome === 'gone') throw AppError.notFound('Lesson');
    if (outcome === 'empty') {
      throw new AppError('nothing_to_publish', 'The draft has no files; upload at least one first');
    }
    for (const listener of this.published) await listener(id, outcome.published);
    return toLessonView(await this.readable(p, id));
  }

  async versions(p: Principal, id: string): Promise<Page<VersionView>> {
    const lesson = await this.readable(p, id);
    const drafts = canReadDrafts(p, lesson);
    const [versions, totals] = await Promise.all([
      this.repo.listVersions(id),
      this.repo.versionTotals(id),
    ]);
    return all(
      versions
        .filter((v) => drafts || v.state !== 'draft')
        .map((v) => ({
          version: v.version,
          state: v.state,
          publishedAt: v.publishedAt ? v.publishedAt.toISOString() : null,
          files: totals.get(v.version)?.files ?? 0,
          bytes: totals.get(v.version)?.bytes ?? 0,
        })),
    );
  }

  async files(
    p: Principal,
    id: string,
    version: number,
    query: PageQuery,
  ): Promise<Page<FileView>> {
    const lesson = await this.readable(p, id);
    const v = await this.repo.findVersion(id, version);
    if (!v || (v.state === 'draft' && !canReadDrafts(p, lesson))) {
      throw AppError.notFound('Lesson version');
    }
    const [rows, total] = await this.repo.listFiles(
      id,
      version,
      (query.page - 1) * query.pageSize,
      query.pageSize,
    );
    const renditions = this.renditionLookup
      ? await this.renditionLookup(rows.map((r) => r.blobSha256.trim()))
      : new Map<string, RenditionView[]>();
    return page(
      rows.map((r) => ({
        ...toFileView(r),
        renditions: renditions.get(r.blobSha256.trim()) ?? [],
      })),
      total,
      query,
    );
  }

  async deleteFile(p: Principal, id: string, path: string): Promise<void> {
    const lesson = await this.writable(p, id);
    if (!(await this.repo.deleteDraftFile(id, lesson.draftVersion, path))) {
      throw AppError.notFound('File');
    }
  }
}
