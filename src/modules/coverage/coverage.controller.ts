import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal } from '../auth/decorators';
import { Principal } from '../auth/principal';
import {
  ChildRegionsQuery,
  CoverageRegionsView,
  CoverageSchoolsQuery,
  CoverageSchoolsView,
  CoverageSubjectsView,
  CoverageSummaryView,
  RegionScopeQuery,
} from './coverage.dto';
import { CSV_TEMPLATES, CoverageService } from './coverage.service';
import { flatten, toCsv } from './csv';

/** CSV when asked by ?format=csv or by an Accept header that prefers text/csv. */
function wantsCsv(req: Request, format: string | undefined): boolean {
  if (format) return format === 'csv';
  return req.accepts(['application/json', 'text/csv']) === 'text/csv';
}

function sendCsv(
  res: Response,
  name: keyof typeof CSV_TEMPLATES | 'summary',
  rows: object[],
): string {
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="coverage-${name}.csv"`);
  // A byte order mark so spreadsheet programs read the Chinese names as UTF-8.
  const columns = name === 'summary' ? undefined : Object.keys(flatten(CSV_TEMPLATES[name]));
  return `\uFEFF${toCsv(rows, columns)}`;
}

const CSV_NOTE =
  'Also text/csv (Accept: text/csv or ?format=csv); every row carries asOf; cells starting with = + - @ get a leading apostrophe.';

@ApiTags('coverage')
@ApiBearerAuth()
@ApiProduces('application/json', 'text/csv')
@Controller('coverage')
export class CoverageController {
  constructor(private readonly coverage: CoverageService) {}

  @Get('summary')
  @ApiOperation({
    summary: "Figures for a region's subtree (or all the caller sees)",
    description: CSV_NOTE,
  })
  @ApiOkResponse({ type: CoverageSummaryView })
  @ApiNotFoundResponse({ description: 'region unknown or outside the caller’s subtree' })
  async summary(
    @CurrentPrincipal() p: Principal,
    @Query() query: RegionScopeQuery,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CoverageSummaryView | string> {
    const body = await this.coverage.summary(p, query.regionId);
    return wantsCsv(req, query.format) ? sendCsv(res, 'summary', [body]) : body;
  }

  @Get('regions')
  @ApiOperation({
    summary: 'One row per child region, with its subtree figures',
    description: CSV_NOTE,
  })
  @ApiOkResponse({ type: CoverageRegionsView })
  @ApiNotFoundResponse({ description: 'parent unknown or outside the caller’s subtree' })
  async regions(
    @CurrentPrincipal() p: Principal,
    @Query() query: ChildRegionsQuery,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CoverageRegionsView | string> {
    const body = await this.coverage.childRegions(p, query.parentId);
    return wantsCsv(req, query.format)
      ? sendCsv(
          res,
          'regions',
          body.items.map((i) => ({ asOf: body.asOf, ...i })),
        )
      : body;
  }

  @Get('subjects')
  @ApiOperation({
    summary: 'Teacher gaps, covered gaps and lessons installed per subject and grade',
    description: CSV_NOTE,
  })
  @ApiOkResponse({ type: CoverageSubjectsView })
  @ApiNotFoundResponse({ description: 'region unknown or outside the caller’s subtree' })
  async subjects(
    @CurrentPrincipal() p: Principal,
    @Query() query: RegionScopeQuery,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CoverageSubjectsView | string> {
    const body = await this.coverage.subjects(p, query.regionId);
    return wantsCsv(req, query.format)
      ? sendCsv(
          res,
          'subjects',
          body.items.map((i) => ({ asOf: body.asOf, ...i })),
        )
      : body;
  }

  @Get('schools')
  @ApiOperation({
    summary: 'School rows, paged, optionally only stale, late or uncovered ones',
    description: CSV_NOTE,
  })
  @ApiOkResponse({ type: CoverageSchoolsView })
  @ApiNotFoundResponse({ description: 'region unknown or outside the caller’s subtree' })
  async schools(
    @CurrentPrincipal() p: Principal,
    @Query() query: CoverageSchoolsQuery,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CoverageSchoolsView | string> {
    const body = await this.coverage.schools(p, query);
    return wantsCsv(req, query.format)
      ? sendCsv(
          res,
          'schools',
          body.items.map((i) => ({ asOf: body.asOf, ...i })),
        )
      : body;
  }
}
