import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { PageQuery } from '../../common/http/pagination';
import { IsSubject } from '../../common/validation/domain';

/** Shapes only; the school rules themselves live in fields/school-fields.ts (shared with CSV). */
export class WindowDto {
  @ApiProperty({ example: '22:00' }) @IsString() @MaxLength(5) start!: string;
  @ApiProperty({ example: '06:00' }) @IsString() @MaxLength(5) end!: string;
}

export class TeacherGapDto {
  @ApiProperty({ example: 'english' }) @IsSubject() subject!: string;
  @ApiProperty({ type: [Number], example: [3, 4, 5, 6] })
  @IsArray()
  @ArrayMaxSize(12)
  @IsInt({ each: true })
  grades!: number[];
}

export class LinkDto {
  @ApiProperty({ example: 4000 }) @IsInt() downlinkKbps!: number;
  @ApiPropertyOptional({ type: [WindowDto], description: 'none = always reachable' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(24)
  @ValidateNested({ each: true })
  @Type(() => WindowDto)
  windows?: WindowDto[];
  @ApiProperty({ example: 'Asia/Shanghai' }) @IsString() @MaxLength(64) timezone!: string;
  @ApiPropertyOptional({ nullable: true, type: Number }) @IsOptional() @IsInt() monthlyCapMb?:
    number | null;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() broadcastReceiver?: boolean;
}

export class DeviceDto {
  @ApiPropertyOptional({ enum: [240, 360, 480, 720], default: 480 })
  @IsOptional()
  @IsInt()
  maxVideoHeight?: number;
  @ApiPropertyOptional({ type: [String], default: ['h264'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(4)
  @IsString({ each: true })
  videoCodecs?: string[];
  @ApiPropertyOptional({ type: [String], default: ['webp', 'jpeg', 'png'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(5)
  @IsString({ each: true })
  imageFormats?: string[];
}

export class CreateSchoolDto {
  @ApiProperty({ example: 'GS-LZ-0001' }) @IsString() @MaxLength(64) code!: string;
  @ApiProperty({ example: '兰州市七里河区第一小学' }) @IsString() @MaxLength(200) name!: string;
  @ApiProperty({ format: 'uuid' }) @IsUUID() regionId!: string;
  @ApiProperty({ example: 320 }) @IsInt() pupils!: number;
  @ApiProperty({ type: [Number], example: [1, 2, 3, 4, 5, 6] })
  @IsArray()
  @ArrayMaxSize(12)
  @IsInt({ each: true })
  grades!: number[];
  @ApiPropertyOptional({ type: [String], default: ['zh-CN'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10)
  @IsString({ each: true })
  languages?: string[];
  @ApiPropertyOptional({ type: [TeacherGapDto] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => TeacherGapDto)
  teacherGaps?: TeacherGapDto[];
  @ApiProperty({ type: LinkDto }) @ValidateNested() @Type(() => LinkDto) link!: LinkDto;
  @ApiProperty({ example: 64000 }) @IsInt() storageCapacityMb!: number;
  @ApiPropertyOptional({ type: DeviceDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => DeviceDto)
  device?: DeviceDto;
}

/** Every field of a new school but its code (the external key), each optional. */
export class UpdateSchoolDto extends PartialType(OmitType(CreateSchoolDto, ['code'] as const)) {}

export class ListSchoolsQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() regionId?: string;
  @ApiPropertyOptional() @IsOptional() @IsSubject() gapSubject?: string;
  @ApiPropertyOptional({ minimum: 1, maximum: 12 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(12)
  grade?: number;
  @ApiPropertyOptional({ description: 'substring of code or name; an exact code match first' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  q?: string;
}

export class ImportQuery {
  @ApiPropertyOptional({ enum: ['utf-8', 'gb18030'] })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.toLowerCase() : value,
  )
  @IsIn(['utf-8', 'utf8', 'gb18030'])
  charset?: string;
}

export class SchoolView {
  @ApiProperty() id!: string;
  @ApiProperty() code!: string;
  @ApiProperty() name!: string;
  @ApiProperty() regionId!: string;
  @ApiProperty() pupils!: number;
  @ApiProperty({ type: [Number] }) grades!: number[];
  @ApiProperty({ type: [String] }) languages!: string[];
  @ApiProperty({ type: [TeacherGapDto] }) teacherGaps!: TeacherGapDto[];
  @ApiProperty({ type: LinkDto }) link!: {
    downlinkKbps: number;
    windows: { start: string; end: string }[];
    timezone: string;
    monthlyCapMb: number | null;
    broadcastReceiver: boolean;
  };
  @ApiProperty() storageCapacityMb!: number;
  @ApiProperty({ type: DeviceDto }) device!: {
    maxVideoHeight: number;
    videoCodecs: string[];
    imageFormats: string[];
  };
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}

export class TerminalView {
  @ApiProperty() id!: string;
  @ApiProperty() schoolId!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ nullable: true, type: String }) agentVersion!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastSeenAt!: string | null;
  @ApiProperty({ nullable: true, type: Number }) freeBytes!: number | null;
  @ApiProperty({ nullable: true, type: String }) revokedAt!: string | null;
  @ApiProperty() createdAt!: string;
}

export class EnrollDto {
  @ApiProperty({ example: 'K3QX-7P2M' }) @IsString() @MaxLength(64) code!: string;
  @ApiProperty({ example: 'classroom-1' }) @IsString() @MaxLength(200) name!: string;
  @ApiProperty({ example: '1.0.0' }) @IsString() @MaxLength(64) agentVersion!: string;
}
