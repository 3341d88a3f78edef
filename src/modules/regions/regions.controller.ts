import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { IdPipe } from '../../common/http/id.pipe';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Page } from '../../common/http/pagination';
import { PageQuery } from '../../common/http/pagination';
import { CurrentPrincipal, Roles } from '../auth/decorators';
import { Principal } from '../auth/principal';
import {
  BureauView,
  CreateBureauDto,
  CreateRegionDto,
  ListRegionsQuery,
  RegionView,
} from './regions.dto';
import { RegionsService } from './regions.service';

@ApiTags('regions')
@ApiBearerAuth()
@Controller()
export class RegionsController {
  constructor(private readonly regions: RegionsService) {}

  @Post('regions')
  @Roles('admin')
  create(@Body() dto: CreateRegionDto): Promise<RegionView> {
    return this.regions.create(dto);
  }

  @Get('regions')
  list(
    @CurrentPrincipal() p: Principal,
    @Query() query: ListRegionsQuery,
  ): Promise<Page<RegionView>> {
    return this.regions.list(p, query);
  }

  @Get('regions/:id')
  get(@CurrentPrincipal() p: Principal, @Param('id', IdPipe) id: string): Promise<RegionView> {
    return this.regions.get(p, id);
  }

  @Post('bureaus')
  @Roles('admin')
  createBureau(@Body() dto: CreateBureauDto): Promise<BureauView> {
    return this.regions.createBureau(dto);
  }

  @Get('bureaus')
  listBureaus(
    @CurrentPrincipal() p: Principal,
    @Query() query: PageQuery,
  ): Promise<Page<BureauView>> {
    return this.regions.listBureaus(p, query);
  }
}
