import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error';
import { Page, page } from '../../common/http/pagination';
import { ENV, Env } from '../../config/env';
import { JobHandlers } from '../../jobs/job-handlers';
import { AssignPayload } from '../../jobs/job-types';
import { JobsService } from '../../jobs/jobs.service';
import { AuthService } from '../auth/auth.service';
import { Principal } from '../auth/principal';
import { CoursesService } from '../catalog/courses.service';
import { LessonsService } from '../catalog/lessons.service';
import { RegionsService } from '../regions/regions.service';
import { SchoolEventsService } from '../schools/school-events.service';
import { AssignmentView, CreateAssignmentDto, ListAssignmentsQuery } from './assignments.dto';
import { AssignmentsRepository, TargetSql } from './assignments.repository';

export interface AssignResult {
  created: number;
  existing: number;
}

@Injectable()
export class AssignmentsService implements OnModuleInit {
  constructor(
    private readonly repo: AssignmentsRepository,
    private readonly lessons: LessonsService,
    private readonly courses: CoursesService,
    private readonly regions: RegionsService,
    private readonly events: SchoolEventsService,
    private readonly jobs: JobsService,
    private readonly handlers: JobHandlers,
    private readonly auth: AuthService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  onModuleInit(): void {
    this.handlers.register('assignments.assign', async (payload) => {
      const p = await this.auth.principalOf(payload.userId);
      return this.assign(p, payload);
    });
    // A new version changes what assigned schools should hold; a retired lesson leaves them.
    this.lessons.onPublished(async (lessonId) => {
      await this.events.emit(await this.repo.schoolsAssigned(lessonId), 'lesson.published', {
        lessonId,
      });
    });
    this.lessons.onRetired(async (lessonId) => {
      const schools = await this.repo.revoke({ lessonId });
      await this.events.schedule(schools);
    });
  }

  /** Validates the request and either assigns inline or, for a large target, answers with a job. */
  async create(p: Principal, dto: CreateAssignmentDto): Promise<AssignResult | { jobId: string }> {
    if ((dto.lessonId ? 1 : 0) + (dto.courseId ? 1 : 0) !== 1) {
      throw new AppError('validation_failed', 'Assign either a lesson or a course', [
        { field: 'lessonId', message: 'give exactly one of lessonId and courseId' },
      ]);
    }
    const targets = [dto.schoolIds, dto.regionId, dto.gap].filter((t) => t !== undefined).length;
    if (targets !== 1) {
      throw new AppError('validation_failed', 'Name the schools: schoolIds, regionId or gap', [
        { field: 'schoolIds', message: 'give exactly one of schoolIds, regionId and gap' },
      ]);
    }
    const lessonIds = await this.assignableLessons(p, dto);
    const payload: AssignPayload = {
      userId: p.id,
      lessonIds,
      courseId: dto.courseId ?? null,
      target: { schoolIds: dto.schoolIds, regionId: dto.regionId, gap: dto.gap },
      dueDate: dto.dueDate ?? null,
      priority: dto.priority ?? 5,
    };
    const target = await this.resolveTarget(p, payload.target);
    const scope = await this.regions.scopePath(p);
    if (
      target.kind === 'schools' &&
      (await this.repo.countTarget(target, scope)) !== target.ids.length
    ) {
      // One school outside the caller's regions (or unknown) makes the whole request unknown.
      throw AppError.notFound('School');
    }
    if ((await this.repo.countTarget(target, scope)) > this.env.assignSyncLimit) {
      return { jobId: await this.jobs.enqueue('assignments.assign', payload, { userId: p.id }) };
    }
    return this.assign(p, payload);
  }

  async assign(p: Principal, payload: AssignPayload): Promise<AssignResult> {
    const target = await this.resolveTarget(p, payload.target);
    const result = await this.repo.createForTarget(target, await this.regions.scopePath(p), {
      lessonIds: payload.lessonIds,
      courseId: payload.courseId,
      source: 'manual',
      dueDate: payload.dueDate,
      priority: payload.priority,
      userId: p.id,
    });
    await this.events.schedule(result.schoolIds);
    return { created: result.created, existing: result.pairs - result.created };
  }

  async list(p: Principal, query: ListAssignmentsQuery): Promise<Page<AssignmentView>> {
    const [rows, total] = await this.repo.list(await this.regions.scopePath(p), {
      schoolId: query.schoolId,
      lessonId: query.lessonId,
      state: query.state,
      offset: (query.page - 1) * query.pageSize,
      limit: query.pageSize,
    });
    return page(rows, total, query);
  }

  async revoke(p: Principal, id: string): Promise<void> {
    const found = await this.repo.findLive(id, await this.regions.scopePath(p));
    if (!found) throw AppError.notFound('Assignment');
    await this.events.schedule(await this.repo.revoke({ id }));
  }

  private async assignableLessons(p: Principal, dto: CreateAssignmentDto): Promise<string[]> {
    if (dto.lessonId) {
      const lesson = await this.lessons.readable(p, dto.lessonId);
      if (lesson.status !== 'active' || lesson.publishedVersion === null) {
        throw new AppError(
          'validation_failed',
          'Only published lessons can be assigned; publish it first',
          [{ field: 'lessonId', message: 'has no published version' }],
        );
      }
      return [lesson.id];
    }
    const course = await this.courses.get(dto.courseId as string);
    const published = await this.courses.publishedLessonIds(course.id);
    if (published.length === 0) {
      throw new AppError(
        'validation_failed',
        'None of the lessons of this course is published yet',
        [{ field: 'courseId', message: 'no published lessons' }],
      );
    }
    return published;
  }

  private async resolveTarget(p: Principal, t: AssignPayload['target']): Promise<TargetSql> {
    if (t.schoolIds) return { kind: 'schools', ids: t.schoolIds };
    if (t.regionId) {
      const region = await this.regions.findById(t.regionId);
      if (!region || !(await this.regions.canSee(p, region))) throw AppError.notFound('Region');
      return { kind: 'region', path: region.path };
    }
    const gap = t.gap as { subject: string; grade: number };
    return { kind: 'gap', subject: gap.subject, grade: gap.grade };
  }
}
