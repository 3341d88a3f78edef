import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { Page, PageQuery, all } from '../../common/http/pagination';
import { CurrentPrincipal, Roles } from '../auth/decorators';
import { Principal } from '../auth/principal';
import { BroadcastService, DecisionView, SlotView } from './broadcast.service';
import { LossService } from './loss.service';

export class DecisionsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['broadcast', 'unicast'] })
  @IsOptional()
  @IsIn(['broadcast', 'unicast'])
  via?: 'broadcast' | 'unicast';
}

/** Broadcast planning for admins: decisions with their reasons, the carousel, loss per region. */
@ApiTags('broadcast')
@ApiBearerAuth()
@Controller('broadcast')
export class BroadcastController {
  constructor(
    private readonly broadcast: BroadcastService,
    private readonly loss: LossService,
  ) {}

  /** 202 {jobId}: plan now instead of at the next reconcile. */
  @Post('plan')
  @Roles('admin')
  @HttpCode(202)
  plan(@CurrentPrincipal() p: Principal): Promise<{ jobId: string }> {
    return this.broadcast.planNow(p);
  }

  @Get('decisions')
  @Roles('admin')
  decisions(@Query() query: DecisionsQuery): Promise<Page<DecisionView>> {
    return this.broadcast.decisions(query);
  }

  @Get('schedule')
  @Roles('admin')
  async schedule(): Promise<Page<SlotView>> {
    return all(await this.broadcast.schedule());
  }

  @Get('loss')
  @Roles('admin')
  async regionLoss(): Promise<
    Page<{ regionId: string; loss: number; overhead: number; samples: number; updatedAt: string }>
  > {
    return all(await this.loss.regions());
  }
}
