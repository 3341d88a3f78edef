import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AppError } from '../../common/errors/app-error';
import { Page, PageQuery, page } from '../../common/http/pagination';
import { Principal } from '../auth/principal';
import { Course } from './catalog.entities';
import { CourseView, CreateCourseDto } from './lessons.dto';
import { LessonsRepository } from './lessons.repository';

const toCourseView = (c: Course): CourseView => ({
  id: c.id,
  title: c.title,
  subject: c.subject,
  grade: c.grade,
  bureauId: c.bureauId,
  lessonIds: c.lessonIds,
  createdAt: c.createdAt.toISOString(),
});

/** Courses: ordered lists of lessons a school works through. */
@Injectable()
export class CoursesService {
  constructor(
    @InjectRepository(Course) private readonly courses: Repository<Course>,
    private readonly lessons: LessonsRepository,
  ) {}

  async create(p: Principal, dto: CreateCourseDto): Promise<CourseView> {
    const found = await this.lessons.existingIds(dto.lessonIds);
    const usable = new Set(
      found
        .filter(
          (l) =>
            l.status === 'active' &&
            (l.publishedVersion !== null || p.role === 'admin' || l.bureauId === p.bureauId),
        )
        .map((l) => l.id),
    );
    const bad = dto.lessonIds
      .map((id, index) => ({ id, index }))
      .filter(({ id }) => !usable.has(id));
    if (bad.length) {
      throw new AppError(
        'validation_failed',
        'Some lessons do not exist, are retired, or are drafts of another bureau',
        bad.map(({ index }) => ({
          field: `lessonIds.${index}`,
          message: 'no usable lesson has this id',
        })),
      );
    }
    const saved = await this.courses.save(
      this.courses.create({
        title: dto.title,
        subject: dto.subject,
        grade: dto.grade,
        lessonIds: dto.lessonIds,
        bureauId: p.bureauId,
        createdBy: p.id,
      }),
    );
    return toCourseView(saved);
  }

  async list(query: PageQuery): Promise<Page<CourseView>> {
    const [rows, total] = await this.courses.findAndCount({
      order: { createdAt: 'DESC', id: 'ASC' },
      skip: (query.page - 1) * query.pageSize,
      take: query.pageSize,
    });
    return page(rows.map(toCourseView), total, query);
  }

  /** The course's lessons that are published and not retired, in course order. */
  async publishedLessonIds(courseId: string): Promise<string[]> {
    const course = await this.courses.findOneBy({ id: courseId });
    if (!course) throw AppError.notFound('Course');
    const lessons = await this.lessons.existingIds(course.lessonIds);
    const usable = new Set(
      lessons.filter((l) => l.status === 'active' && l.publishedVersion !== null).map((l) => l.id),
    );
    return course.lessonIds.filter((id) => usable.has(id));
  }

  async get(id: string): Promise<CourseView> {
    const course = await this.courses.findOneBy({ id });
    if (!course) throw AppError.notFound('Course');
    return toCourseView(course);
  }
}
