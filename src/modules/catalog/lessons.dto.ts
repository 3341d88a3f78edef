import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { PageQuery } from '../../common/http/pagination';
import { IsLanguageTag, IsSubject, SUBJECTS } from '../../common/validation/domain';

const SUBJECT_DOC = `one of ${SUBJECTS.join(', ')}, or x-<code>`;

export class CreateLessonDto {
  @ApiProperty({ example: 'Music 3: singing in rounds' })
  @IsString()
  @Length(1, 300)
  title!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(10000)
  description?: string;

  @ApiProperty({ description: SUBJECT_DOC, example: 'music' })
  @IsSubject()
  subject!: string;

  @ApiProperty({ type: [Number], example: [3, 4] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(12)
  @ArrayUnique()
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(12, { each: true })
  grades!: number[];

  @ApiProperty({ description: 'language of instruction, BCP 47', example: 'zh-CN' })
  @IsLanguageTag()
  language!: string;

  @ApiPropertyOptional({ example: 'MUS-3-2-1' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  curriculumCode?: string;

  @ApiPropertyOptional({ example: 'PEP 2024' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  textbookEdition?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1440 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1440)
  durationMinutes?: number;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @Length(1, 64, { each: true })
  tags?: string[];

  @ApiPropertyOptional({ description: 'usable in a class with no subject teacher present' })
  @IsOptional()
  @IsBoolean()
  teacherlessReady?: boolean;

  @ApiPropertyOptional({ format: 'uuid', description: 'admins only: the bureau that owns it' })
  @IsOptional()
  @IsUUID()
  bureauId?: string;
}

/** Every field of a new lesson but its owner, each optional; `description: null` clears it. */
export class UpdateLessonDto extends PartialType(
  OmitType(CreateLessonDto, ['bureauId'] as const),
) {}

export const LESSON_STATUSES = ['draft', 'published', 'retired'] as const;
export type LessonStatusView = (typeof LESSON_STATUSES)[number];

export class ListLessonsQuery extends PageQuery {
  @ApiPropertyOptional({ description: SUBJECT_DOC }) @IsOptional() @IsSubject() subject?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 12 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(12)
  grade?: number;

  @ApiPropertyOptional() @IsOptional() @IsLanguageTag() language?: string;

  @ApiPropertyOptional({ enum: LESSON_STATUSES })
  @IsOptional()
  @IsIn(LESSON_STATUSES)
  status?: LessonStatusView;

  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() bureauId?: string;

  @ApiPropertyOptional({ description: 'words or any part of a title, description or tag' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  q?: string;
}

export class LessonView {
  @ApiProperty() id!: string;
  @ApiProperty() bureauId!: string;
  @ApiProperty() title!: string;
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty() subject!: string;
  @ApiProperty({ type: [Number] }) grades!: number[];
  @ApiProperty() language!: string;
  @ApiProperty({ nullable: true, type: String }) curriculumCode!: string | null;
  @ApiProperty({ nullable: true, type: String }) textbookEdition!: string | null;
  @ApiProperty({ nullable: true, type: Number }) durationMinutes!: number | null;
  @ApiProperty({ type: [String] }) tags!: string[];
  @ApiProperty() teacherlessReady!: boolean;
  @ApiProperty({ enum: LESSON_STATUSES }) status!: LessonStatusView;
  @ApiProperty() draftVersion!: number;
  @ApiProperty({ nullable: true, type: Number }) publishedVersion!: number | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}

export class RenditionView {
  @ApiProperty({ example: 'v480.h264.webp' }) profile!: string;
  @ApiProperty({ nullable: true, type: Number }) size!: number | null;
  @ApiProperty({ nullable: true, type: String }) sha256!: string | null;
  @ApiProperty({ enum: ['pending', 'ready', 'skipped', 'failed'] }) state!: string;
  @ApiPropertyOptional({ description: 'why it failed or was skipped' }) reason?: string;
}

export class FileView {
  @ApiProperty() path!: string;
  @ApiProperty() size!: number;
  @ApiProperty() sha256!: string;
  @ApiProperty() mediaType!: string;
  @ApiProperty({ type: [RenditionView] }) renditions!: RenditionView[];
}

export class VersionView {
  @ApiProperty() version!: number;
  @ApiProperty({ enum: ['draft', 'published', 'retired'] }) state!: string;
  @ApiProperty({ nullable: true, type: String }) publishedAt!: string | null;
  @ApiProperty() files!: number;
  @ApiProperty() bytes!: number;
}

export class DeleteFileQuery {
  @ApiProperty() @IsString() @Length(1, 2048) path!: string;
}

export class CreateCourseDto {
  @ApiProperty() @IsString() @Length(1, 300) title!: string;
  @ApiProperty({ description: SUBJECT_DOC }) @IsSubject() subject!: string;
  @ApiProperty({ minimum: 1, maximum: 12 }) @IsInt() @Min(1) @Max(12) grade!: number;
  @ApiProperty({ type: [String], description: 'ordered lesson ids' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(500)
  @ArrayUnique()
  @IsUUID('all', { each: true })
  lessonIds!: string[];
}

export class CourseView {
  @ApiProperty() id!: string;
  @ApiProperty() title!: string;
  @ApiProperty() subject!: string;
  @ApiProperty() grade!: number;
  @ApiProperty({ nullable: true, type: String }) bureauId!: string | null;
  @ApiProperty({ type: [String] }) lessonIds!: string[];
  @ApiProperty() createdAt!: string;
}
