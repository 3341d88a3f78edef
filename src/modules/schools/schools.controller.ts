import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { IdPipe } from '../../common/http/id.pipe';
import { Page } from '../../common/http/pagination';
import { CurrentPrincipal, Roles } from '../auth/decorators';
import { Principal } from '../auth/principal';
import { SchoolImportService } from './school-import.service';
import {
  CreateSchoolDto,
  ImportQuery,
  ListSchoolsQuery,
  SchoolView,
  TerminalView,
  UpdateSchoolDto,
} from './schools.dto';
import { SchoolsService } from './schools.service';
import { TerminalsService } from './terminals.service';

@ApiTags('schools')
@ApiBearerAuth()
@Controller()
export class SchoolsController {
  constructor(
    private readonly schools: SchoolsService,
    private readonly imports: SchoolImportService,
    private readonly terminals: TerminalsService,
  ) {}

  @Post('schools')
  @Roles('bureau')
  create(@CurrentPrincipal() p: Principal, @Body() dto: CreateSchoolDto): Promise<SchoolView> {
    return this.schools.create(p, dto);
  }

  /** CSV import as a job: 202 {jobId}; GET /jobs/:jobId has {rows, inserted, updated, rejected}. */
  @Post('schools/import')
  @Roles('bureau')
  @HttpCode(202)
  @ApiConsumes('text/csv', 'multipart/form-data')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  import(
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @Query() query: ImportQuery,
  ): Promise<{ jobId: string }> {
    return this.imports.start(p, req, query.charset);
  }

  @Get('schools')
  list(
    @CurrentPrincipal() p: Principal,
    @Query() query: ListSchoolsQuery,
  ): Promise<Page<SchoolView>> {
    return this.schools.list(p, query);
  }

  @Get('schools/:id')
  get(@CurrentPrincipal() p: Principal, @Param('id', IdPipe) id: string): Promise<SchoolView> {
    return this.schools.get(p, id);
  }

  @Patch('schools/:id')
  @Roles('bureau')
  update(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
    @Body() dto: UpdateSchoolDto,
  ): Promise<SchoolView> {
    return this.schools.update(p, id, dto);
  }

  @Delete('schools/:id')
  @Roles('bureau')
  @HttpCode(204)
  remove(@CurrentPrincipal() p: Principal, @Param('id', IdPipe) id: string): Promise<void> {
    return this.schools.remove(p, id);
  }

  @Post('schools/:id/enrollment-codes')
  @Roles('bureau')
  createCode(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
  ): Promise<{ code: string; expiresAt: string }> {
    return this.terminals.createCode(p, id);
  }

  @Get('schools/:id/terminals')
  listTerminals(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
  ): Promise<Page<TerminalView>> {
    return this.terminals.list(p, id);
  }

  @Delete('terminals/:id')
  @Roles('bureau')
  @HttpCode(204)
  revoke(@CurrentPrincipal() p: Principal, @Param('id', IdPipe) id: string): Promise<void> {
    return this.terminals.revoke(p, id);
  }
}
