import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import {
  RECEIPT_STATES,
  RECEIPT_VIAS,
  SYNC_LIMITS,
  type InventoryBody,
  type ReceiptBody,
  type ReceiptLoss,
  type ReceiptState,
  type ReceiptVia,
} from '../../protocol/sync';

export class ReceiptLossDto implements ReceiptLoss {
  @ApiProperty() @IsInt() @Min(0) symbolsExpected!: number;
  @ApiProperty() @IsInt() @Min(0) symbolsReceived!: number;
  @ApiProperty() @IsInt() @Min(0) objectsRepaired!: number;
}

export class ReceiptDto implements ReceiptBody {
  @ApiProperty({ format: 'uuid' }) @IsUUID() bundleId!: string;
  @ApiProperty({ enum: RECEIPT_STATES }) @IsIn(RECEIPT_STATES) state!: ReceiptState;
  @ApiPropertyOptional({ maxLength: SYNC_LIMITS.errorMaxLength })
  @IsOptional()
  @IsString()
  @MaxLength(SYNC_LIMITS.errorMaxLength)
  error?: string;
  @ApiProperty({ minimum: 0 }) @IsInt() @Min(0) bytesReceived!: number;
  @ApiProperty({ enum: RECEIPT_VIAS }) @IsIn(RECEIPT_VIAS) via!: ReceiptVia;
  @ApiPropertyOptional({ type: ReceiptLossDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => ReceiptLossDto)
  loss?: ReceiptLossDto;
}

export class InventoryLessonDto {
  @ApiProperty({ format: 'uuid' }) @IsUUID() lessonId!: string;
  @ApiProperty({ minimum: 1 }) @IsInt() @Min(1) version!: number;
}

export class InventoryDto implements InventoryBody {
  @ApiProperty({ type: [InventoryLessonDto], maxItems: SYNC_LIMITS.inventoryMaxLessons })
  @IsArray()
  @ArrayMaxSize(SYNC_LIMITS.inventoryMaxLessons)
  @ValidateNested({ each: true })
  @Type(() => InventoryLessonDto)
  lessons!: InventoryLessonDto[];
  @ApiProperty({ minimum: 0 }) @IsInt() @Min(0) freeBytes!: number;
  @ApiProperty({ example: '1.0.0' })
  @IsString()
  @MinLength(1)
  @MaxLength(SYNC_LIMITS.agentVersionMaxLength)
  agentVersion!: string;
}
