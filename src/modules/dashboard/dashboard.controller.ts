import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Roles } from '../auth/decorators';
import { Principal } from '../auth/principal';
import { ActivityQuery, ActivityView, QueuesView } from './dashboard.dto';
import { DashboardService } from './dashboard.service';

@ApiTags('dashboard')
@ApiBearerAuth()
@Controller()
export class DashboardController {
  constructor(private readonly dashboard: DashboardService) {}

  /** The dashboard's charts: lessons installed and bytes saved by packaging, per day. */
  @Get('dashboard/activity')
  @ApiOkResponse({ type: ActivityView })
  activity(@CurrentPrincipal() p: Principal, @Query() query: ActivityQuery): Promise<ActivityView> {
    return this.dashboard.activity(p, query);
  }

  /** Queue depths for the dashboard (the Bull Board at /admin/queues has the detail). */
  @Get('dashboard/queues')
  @Roles('admin')
  @ApiOkResponse({ type: QueuesView })
  queues(): Promise<QueuesView> {
    return this.dashboard.queues();
  }
}
