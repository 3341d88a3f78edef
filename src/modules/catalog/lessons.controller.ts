import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseIntPipe,
  Patch,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AppError } from '../../common/errors/app-error';
import { IdPipe } from '../../common/http/id.pipe';
import { Page, PageQuery } from '../../common/http/pagination';
import { CurrentPrincipal, Roles } from '../auth/decorators';
import { Principal } from '../auth/principal';
import { StorageService } from '../storage/storage.service';
import { CoursesService } from './courses.service';
import { IngestService } from './ingest.service';
import {
  CourseView,
  CreateCourseDto,
  CreateLessonDto,
  DeleteFileQuery,
  FileView,
  LessonView,
  ListLessonsQuery,
  UpdateLessonDto,
  VersionView,
} from './lessons.dto';
import { LessonsService } from './lessons.service';
import { readMultipartFile } from './multipart';
import { normaliseLessonPath } from './validation/lesson-path';

const versionPipe = new ParseIntPipe({
  exceptionFactory: () => new AppError('not_found', 'No such version'),
});

@ApiTags('catalog')
@ApiBearerAuth()
@Controller()
export class LessonsController {
  constructor(
    private readonly lessons: LessonsService,
    private readonly ingest: IngestService,
    private readonly storage: StorageService,
    private readonly courses: CoursesService,
  ) {}

  @Post('lessons')
  @Roles('bureau')
  create(@CurrentPrincipal() p: Principal, @Body() dto: CreateLessonDto): Promise<LessonView> {
    return this.lessons.create(p, dto);
  }

  @Get('lessons')
  list(
    @CurrentPrincipal() p: Principal,
    @Query() query: ListLessonsQuery,
  ): Promise<Page<LessonView>> {
    return this.lessons.list(p, query);
  }

  @Get('lessons/:id')
  get(@CurrentPrincipal() p: Principal, @Param('id', IdPipe) id: string): Promise<LessonView> {
    return this.lessons.get(p, id);
  }

  @Patch('lessons/:id')
  @Roles('bureau')
  update(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
    @Body() dto: UpdateLessonDto,
  ): Promise<LessonView> {
    return this.lessons.update(p, id, dto);
  }

  @Delete('lessons/:id')
  @Roles('bureau')
  @HttpCode(204)
  retire(@CurrentPrincipal() p: Principal, @Param('id', IdPipe) id: string): Promise<void> {
    return this.lessons.retire(p, id);
  }

  /** Streamed multipart upload into the draft: 201 for a new path, 200 when it replaces one. */
  @Post('lessons/:id/files')
  @Roles('bureau')
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file'],
      properties: { file: { type: 'string', format: 'binary' }, path: { type: 'string' } },
    },
  })
  async upload(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FileView> {
    // Fail before reading a byte when the lesson is not the caller's to change.
    await this.lessons.writable(p, id);
    const form = await readMultipartFile(
      req,
      (source) => this.storage.stage(source, { maxBytes: this.ingest.maxFileBytes }),
      (staged) => this.storage.discard(staged),
    );
    const { file, replaced } = await this.ingest.accept(
      p,
      {
        lessonId: id,
        path: form.fields.path ?? form.fileName,
        fileName: form.fileName,
        declaredType: form.declaredType,
        kind: 'multipart',
      },
      form.staged,
    );
    res.status(replaced ? 200 : 201);
    return file;
  }

  @Get('lessons/:id/versions/:version/files')
  files(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
    @Param('version', versionPipe) version: number,
    @Query() query: PageQuery,
  ): Promise<Page<FileView>> {
    return this.lessons.files(p, id, version, query);
  }

  @Delete('lessons/:id/files')
  @Roles('bureau')
  @HttpCode(204)
  deleteFile(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
    @Query() query: DeleteFileQuery,
  ): Promise<void> {
    return this.lessons.deleteFile(p, id, normaliseLessonPath(query.path));
  }

  @Post('lessons/:id/publish')
  @Roles('bureau')
  @HttpCode(200)
  publish(@CurrentPrincipal() p: Principal, @Param('id', IdPipe) id: string): Promise<LessonView> {
    return this.lessons.publish(p, id);
  }

  @Get('lessons/:id/versions')
  versions(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
  ): Promise<Page<VersionView>> {
    return this.lessons.versions(p, id);
  }

  @Post('courses')
  @Roles('bureau')
  createCourse(
    @CurrentPrincipal() p: Principal,
    @Body() dto: CreateCourseDto,
  ): Promise<CourseView> {
    return this.courses.create(p, dto);
  }

  @Get('courses')
  listCourses(@Query() query: PageQuery): Promise<Page<CourseView>> {
    return this.courses.list(query);
  }

  @Get('courses/:id')
  getCourse(@Param('id', IdPipe) id: string): Promise<CourseView> {
    return this.courses.get(id);
  }
}
