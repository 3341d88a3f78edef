import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Length, Matches } from 'class-validator';
import { PageQuery } from '../../common/http/pagination';
import { REGION_LEVELS, RegionLevel } from './region.entity';

export class CreateRegionDto {
  @ApiProperty({ example: 'CN-GS-0101' })
  @IsString()
  @Length(1, 64)
  @Matches(/^[A-Za-z0-9._-]+$/, {
    message: 'code may hold letters, digits, dots, dashes and underscores',
  })
  code!: string;

  @ApiProperty({ example: '甘肃省' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiProperty({ enum: REGION_LEVELS })
  @IsIn(REGION_LEVELS)
  level!: RegionLevel;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  parentId?: string;
}

export class ListRegionsQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'children of this region; omit for roots' })
  @IsOptional()
  @IsUUID()
  parentId?: string;
}

export class CreateBureauDto {
  @ApiProperty({ example: '甘肃省教育厅' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  regionId!: string;
}

export class RegionView {
  @ApiProperty() id!: string;
  @ApiProperty() code!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: REGION_LEVELS }) level!: RegionLevel;
  @ApiProperty({ nullable: true, type: String }) parentId!: string | null;
  @ApiProperty() createdAt!: string;
}

export class BureauView {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() regionId!: string;
  @ApiProperty() createdAt!: string;
}
