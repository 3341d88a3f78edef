import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';

export const MAX_ACTIVITY_DAYS = 90;

export class ActivityQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'default: the caller’s whole scope' })
  @IsOptional()
  @IsUUID()
  regionId?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_ACTIVITY_DAYS, default: 30 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_ACTIVITY_DAYS)
  days: number = 30;
}

export class ActivityDay {
  @ApiProperty({ example: '2026-11-28', description: 'UTC day' }) day!: string;
  @ApiProperty({ description: 'lessons confirmed installed at schools in scope that day' })
  installs!: number;
  @ApiProperty({ description: 'bundles for schools in scope that became ready that day' })
  bundles!: number;
  @ApiProperty({ description: 'bytes of the files those bundles carry' }) sourceBytes!: number;
  @ApiProperty({ description: 'bytes of the bundles themselves' }) bundleBytes!: number;
  @ApiProperty({ description: 'sourceBytes - bundleBytes: saved by compression and deltas' })
  savedBytes!: number;
}

export class ActivityView {
  @ApiProperty({ description: 'when these figures were read' }) asOf!: string;
  @ApiProperty({ type: [ActivityDay], description: 'one row per day, oldest first, gaps filled' })
  items!: ActivityDay[];
  @ApiProperty() page!: number;
  @ApiProperty() pageSize!: number;
  @ApiProperty() total!: number;
}

export class QueueCounts {
  @ApiProperty({ example: 'packaging' }) name!: string;
  @ApiProperty() waiting!: number;
  @ApiProperty() active!: number;
  @ApiProperty() delayed!: number;
  @ApiProperty() completed!: number;
  @ApiProperty() failed!: number;
  @ApiProperty() paused!: boolean;
}

export class QueuesView {
  @ApiProperty() asOf!: string;
  @ApiProperty({ type: [QueueCounts] }) items!: QueueCounts[];
  @ApiProperty() page!: number;
  @ApiProperty() pageSize!: number;
  @ApiProperty() total!: number;
}
