import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../modules/auth/decorators';
import { Principal } from '../modules/auth/principal';
import { JobView, JobsService } from './jobs.service';

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  @Get(':jobId')
  get(@CurrentPrincipal() p: Principal, @Param('jobId') jobId: string): Promise<JobView> {
    return this.jobs.view(p, jobId);
  }
}
