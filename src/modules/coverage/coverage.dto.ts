import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { PageQuery } from '../../common/http/pagination';

export const FORMATS = ['json', 'csv'] as const;
export const SCHOOL_STATUSES = ['stale', 'late', 'uncovered'] as const;

export class FormatQuery {
  @ApiPropertyOptional({
    enum: FORMATS,
    description: 'csv: the same figures as text/csv (also chosen by `Accept: text/csv`)',
  })
  @IsOptional()
  @IsIn(FORMATS)
  format?: (typeof FORMATS)[number];
}

export class RegionScopeQuery extends FormatQuery {
  @ApiPropertyOptional({
    format: 'uuid',
    description: "a region in the caller's subtree; omitted: everything the caller sees",
  })
  @IsOptional()
  @IsUUID()
  regionId?: string;
}

export class ChildRegionsQuery extends FormatQuery {
  @ApiPropertyOptional({
    format: 'uuid',
    description: "children of this region; omitted: the roots (admins) or the caller's own region",
  })
  @IsOptional()
  @IsUUID()
  parentId?: string;
}

export class CoverageSchoolsQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  regionId?: string;

  @ApiPropertyOptional({
    enum: SCHOOL_STATUSES,
    description:
      'stale: no terminal seen in 24 h (or none enrolled); late: at least one late assignment; ' +
      'uncovered: at least one teacher gap without an installed lesson',
  })
  @IsOptional()
  @IsIn(SCHOOL_STATUSES)
  status?: (typeof SCHOOL_STATUSES)[number];

  @ApiPropertyOptional({ enum: FORMATS })
  @IsOptional()
  @IsIn(FORMATS)
  format?: (typeof FORMATS)[number];
}

export class TerminalFigures {
  @ApiProperty({ description: 'active (not revoked) terminals' }) total!: number;
  @ApiProperty({ description: 'terminals seen in the 24 h before asOf' }) seen24h!: number;
  @ApiProperty({ description: 'total - seen24h' }) stale!: number;
}

export class GapFigures {
  @ApiProperty({ description: 'teacher gaps (school, subject, grade)' }) total!: number;
  @ApiProperty({ description: 'gaps with at least one lesson of that subject and grade installed' })
  covered!: number;
}

export class AssignmentFigures {
  @ApiProperty() total!: number;
  @ApiProperty() installed!: number;
  @ApiProperty({ description: 'pending, packaged and delivering' }) pending!: number;
  @ApiProperty() late!: number;
  @ApiProperty() failed!: number;
}

export class ByteFigures {
  @ApiProperty({ description: 'assigned lesson versions as uploaded' }) source!: number;
  @ApiProperty({ description: 'bytes sent to terminals' }) sent!: number;
  @ApiProperty({ description: 'saved by renditions, compression and deltas in built bundles' })
  saved!: number;
  @ApiProperty({ description: 'satellite bytes sent by broadcast' }) broadcast!: number;
  @ApiProperty({ description: 'satellite bytes sent by unicast' }) unicast!: number;
  @ApiProperty({ description: 'unicast bytes a broadcast made unnecessary' })
  savedByBroadcast!: number;
}

export class CoverageFigures {
  @ApiProperty() schools!: number;
  @ApiProperty() pupils!: number;
  @ApiProperty({ type: TerminalFigures }) terminals!: TerminalFigures;
  @ApiProperty({ type: GapFigures }) gaps!: GapFigures;
  @ApiProperty({ type: AssignmentFigures }) assignments!: AssignmentFigures;
  @ApiProperty({ type: ByteFigures }) bytes!: ByteFigures;
}

export class CoverageSummaryView extends CoverageFigures {
  @ApiProperty({ type: String, nullable: true, description: 'the time the rollup reflects' })
  asOf!: string | null;
}

export class SchoolStatusCounts {
  @ApiProperty() stale!: number;
  @ApiProperty() late!: number;
  @ApiProperty() uncovered!: number;
}

export class CoverageRegionRow extends CoverageFigures {
  @ApiProperty() id!: string;
  @ApiProperty() code!: string;
  @ApiProperty() name!: string;
  @ApiProperty() level!: string;
  @ApiProperty({ type: SchoolStatusCounts, description: 'schools by status in this subtree' })
  schoolStatus!: SchoolStatusCounts;
}

export class CoverageSubjectRow {
  @ApiProperty() subject!: string;
  @ApiProperty() grade!: number;
  @ApiProperty() gaps!: number;
  @ApiProperty() covered!: number;
  @ApiProperty({ description: 'lessons of this subject and grade installed, over all schools' })
  lessonsInstalled!: number;
}

export class SchoolStatusFlags {
  @ApiProperty() stale!: boolean;
  @ApiProperty() late!: boolean;
  @ApiProperty() uncovered!: boolean;
}

export class CoverageSchoolRow {
  @ApiProperty() id!: string;
  @ApiProperty() code!: string;
  @ApiProperty() name!: string;
  @ApiProperty() regionId!: string;
  @ApiProperty() regionCode!: string;
  @ApiProperty() regionName!: string;
  @ApiProperty() pupils!: number;
  @ApiProperty({ type: TerminalFigures }) terminals!: TerminalFigures;
  @ApiProperty({ type: String, nullable: true }) lastSeenAt!: string | null;
  @ApiProperty({ type: GapFigures }) gaps!: GapFigures;
  @ApiProperty({ type: AssignmentFigures }) assignments!: AssignmentFigures;
  @ApiProperty({ type: ByteFigures }) bytes!: ByteFigures;
  @ApiProperty({ type: SchoolStatusFlags }) status!: SchoolStatusFlags;
}

abstract class CoverageCollection {
  @ApiProperty({ type: String, nullable: true }) asOf!: string | null;
  @ApiProperty() page!: number;
  @ApiProperty() pageSize!: number;
  @ApiProperty() total!: number;
}

export class CoverageRegionsView extends CoverageCollection {
  @ApiProperty({ type: [CoverageRegionRow] }) items!: CoverageRegionRow[];
}

export class CoverageSubjectsView extends CoverageCollection {
  @ApiProperty({ type: [CoverageSubjectRow] }) items!: CoverageSubjectRow[];
}

export class CoverageSchoolsView extends CoverageCollection {
  @ApiProperty({ type: [CoverageSchoolRow] }) items!: CoverageSchoolRow[];
}
