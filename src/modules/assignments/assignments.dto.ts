import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsUUID,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { PageQuery } from '../../common/http/pagination';
import { IsSubject } from '../../common/validation/domain';

export const ASSIGNMENT_STATES = [
  'pending',
  'packaged',
  'delivering',
  'installed',
  'late',
  'failed',
] as const;
export type AssignmentState = (typeof ASSIGNMENT_STATES)[number];

export class GapTargetDto {
  @ApiProperty({ example: 'english' }) @IsSubject() subject!: string;
  @ApiProperty({ minimum: 1, maximum: 12 }) @IsInt() @Min(1) @Max(12) grade!: number;
}

export class CreateAssignmentDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() lessonId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() courseId?: string;
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10000)
  @ArrayUnique()
  @IsUUID('all', { each: true })
  schoolIds?: string[];
  @ApiPropertyOptional({ format: 'uuid', description: 'every school in this region subtree' })
  @IsOptional()
  @IsUUID()
  regionId?: string;
  @ApiPropertyOptional({
    type: GapTargetDto,
    description: 'every school (in your regions) with this gap',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => GapTargetDto)
  gap?: GapTargetDto;
  @ApiPropertyOptional({
    example: '2026-12-20',
    description: "YYYY-MM-DD in the school's time zone",
  })
  @IsOptional()
  @Matches(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, {
    message: 'dueDate must be YYYY-MM-DD',
  })
  dueDate?: string;
  @ApiPropertyOptional({ minimum: 1, maximum: 9, default: 5, description: '1 is the most urgent' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(9)
  priority?: number;
}

export class ListAssignmentsQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() schoolId?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() lessonId?: string;
  @ApiPropertyOptional({ enum: ASSIGNMENT_STATES })
  @IsOptional()
  @IsIn(ASSIGNMENT_STATES)
  state?: AssignmentState;
}

export class MatchDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() regionId?: string;
  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() dryRun?: boolean;
}

export class AssignmentView {
  @ApiProperty() id!: string;
  @ApiProperty() schoolId!: string;
  @ApiProperty() lessonId!: string;
  @ApiProperty({ nullable: true, type: String }) courseId!: string | null;
  @ApiProperty({ enum: ['manual', 'gap-match'] }) source!: string;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ nullable: true, type: Number }) score!: number | null;
  @ApiProperty({ nullable: true, type: String }) dueDate!: string | null;
  @ApiProperty() priority!: number;
  @ApiProperty({ enum: ASSIGNMENT_STATES }) state!: AssignmentState;
  @ApiProperty() createdAt!: string;
}

export class ProposalView {
  @ApiProperty() schoolId!: string;
  @ApiProperty() subject!: string;
  @ApiProperty() grade!: number;
  @ApiPropertyOptional() lessonId?: string;
  @ApiPropertyOptional() courseId?: string;
  @ApiProperty() score!: number;
  @ApiProperty() reason!: string;
}
