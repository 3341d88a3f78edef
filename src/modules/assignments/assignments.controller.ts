import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { IdPipe } from '../../common/http/id.pipe';
import { Page, PageQuery } from '../../common/http/pagination';
import { CurrentPrincipal, Roles } from '../auth/decorators';
import { Principal } from '../auth/principal';
import {
  AssignmentView,
  CreateAssignmentDto,
  ListAssignmentsQuery,
  MatchDto,
  ProposalView,
} from './assignments.dto';
import { AssignResult, AssignmentsService } from './assignments.service';
import { MatchingService } from './matching.service';
import { HoldingView, PlanService, PlanView } from './plan.service';

@ApiTags('assignments')
@ApiBearerAuth()
@Controller()
export class AssignmentsController {
  constructor(
    private readonly assignments: AssignmentsService,
    private readonly matching: MatchingService,
    private readonly plans: PlanService,
  ) {}

  /** 201 {created, existing}, or 202 {jobId} when the target is large. */
  @Post('assignments')
  @Roles('bureau')
  async create(
    @CurrentPrincipal() p: Principal,
    @Body() dto: CreateAssignmentDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AssignResult | { jobId: string }> {
    const result = await this.assignments.create(p, dto);
    if ('jobId' in result) res.status(202);
    return result;
  }

  @Get('assignments')
  list(
    @CurrentPrincipal() p: Principal,
    @Query() query: ListAssignmentsQuery,
  ): Promise<Page<AssignmentView>> {
    return this.assignments.list(p, query);
  }

  @Post('assignments/match')
  @Roles('bureau')
  @HttpCode(202)
  match(@CurrentPrincipal() p: Principal, @Body() dto: MatchDto): Promise<{ jobId: string }> {
    return this.matching.start(p, dto.regionId, dto.dryRun ?? false);
  }

  @Get('assignments/match/:jobId/proposals')
  proposals(
    @CurrentPrincipal() p: Principal,
    @Param('jobId') jobId: string,
    @Query() query: PageQuery,
  ): Promise<Page<ProposalView>> {
    return this.matching.proposals(p, jobId, query);
  }

  @Delete('assignments/:id')
  @Roles('bureau')
  @HttpCode(204)
  revoke(@CurrentPrincipal() p: Principal, @Param('id', IdPipe) id: string): Promise<void> {
    return this.assignments.revoke(p, id);
  }

  @Get('schools/:id/plan')
  plan(@CurrentPrincipal() p: Principal, @Param('id', IdPipe) id: string): Promise<PlanView> {
    return this.plans.plan(p, id);
  }

  @Get('schools/:id/holdings')
  holdings(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
  ): Promise<Page<HoldingView>> {
    return this.plans.holdings(p, id);
  }
}
