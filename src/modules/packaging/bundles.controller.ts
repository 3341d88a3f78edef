import { Controller, Get, Head, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import type { Request, Response } from 'express';
import { AppError } from '../../common/errors/app-error';
import { IdPipe } from '../../common/http/id.pipe';
import { Page, PageQuery } from '../../common/http/pagination';
import { sendRepresentation } from '../../common/http/ranges';
import { bearerToken } from '../auth/auth.guard';
import { AuthService } from '../auth/auth.service';
import { CurrentPrincipal, Public, Roles } from '../auth/decorators';
import { Principal } from '../auth/principal';
import { StorageService } from '../storage/storage.service';
import { BundleView, BundlesService } from './bundles.service';
import { BundleState } from './packaging.entities';

const STATES = ['queued', 'building', 'ready', 'failed', 'superseded'] as const;

class ListBundlesQuery extends PageQuery {
  @IsOptional() @IsUUID() schoolId?: string;
  @IsOptional() @IsIn(STATES) state?: BundleState;
}

@ApiTags('packaging')
@ApiBearerAuth()
@Controller()
export class BundlesController {
  constructor(
    private readonly bundles: BundlesService,
    private readonly storage: StorageService,
    private readonly auth: AuthService,
  ) {}

  @Get('bundles')
  @ApiQuery({ name: 'schoolId', required: false })
  @ApiQuery({ name: 'state', required: false, enum: STATES })
  list(
    @CurrentPrincipal() p: Principal,
    @Query() query: ListBundlesQuery,
  ): Promise<Page<BundleView>> {
    return this.bundles.list(p, query);
  }

  @Get('bundles/:id')
  get(@CurrentPrincipal() p: Principal, @Param('id', IdPipe) id: string): Promise<BundleView> {
    return this.bundles.get(p, id);
  }

  /** Build now: 202 {jobId}; the job's result names the bundle (an existing one when nothing changed). */
  @Post('schools/:id/bundles')
  @Roles('bureau')
  @HttpCode(202)
  buildNow(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
  ): Promise<{ jobId: string }> {
    return this.bundles.buildNow(p, id);
  }

  @Post('bundles/:id/download-links')
  @HttpCode(201)
  async link(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
  ): Promise<{ url: string; expiresAt: string }> {
    await this.bundles.visibleRow(p, id);
    await this.bundles.readyBundle(id);
    return this.bundles.link(id);
  }

  /** A token, or a signed link from download-links; Range, If-Range and HEAD as RFC 9110 says. */
  @Get('bundles/:id/download')
  @Head('bundles/:id/download')
  @Public()
  async download(
    @Param('id', IdPipe) id: string,
    @Query('expires') expires: string | undefined,
    @Query('signature') signature: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (!this.bundles.linkValid(id, expires, signature)) await this.authorise(req, id);
    const bundle = await this.bundles.readyBundle(id);
    const sha256 = (bundle.sha256 as string).trim();
    await sendRepresentation(req, res, {
      size: bundle.bundleBytes ?? 0,
      etag: `"${sha256}"`,
      contentType: 'application/x-tar',
      fileName: `classcast-bundle-${id}.tar`,
      open: (range) => this.storage.open(sha256, range),
    });
  }

  @Get('bundles/:id/download.minisig')
  @Public()
  async minisig(
    @Param('id', IdPipe) id: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.authorise(req, id);
    const bundle = await this.bundles.readyBundle(id);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Cache-Control', 'private, immutable, no-transform');
    res.send(bundle.minisig ?? '');
  }

  private async authorise(req: Request, id: string): Promise<void> {
    const token = bearerToken(req.headers.authorization);
    const principal = token ? await this.auth.authenticate(token, 'access') : null;
    if (!principal)
      throw new AppError('unauthorized', 'Send a token, or use a signed link from download-links');
    await this.bundles.visibleRow(principal, id);
  }
}
