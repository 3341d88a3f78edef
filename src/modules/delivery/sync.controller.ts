import {
  Body,
  Controller,
  Get,
  Head,
  HttpCode,
  Param,
  Post,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AppError } from '../../common/errors/app-error';
import { IdPipe } from '../../common/http/id.pipe';
import { SHA256_HEX } from '../../protocol/sync';
import { Public } from '../auth/decorators';
import { CurrentTerminal, TerminalGuard } from '../schools/terminal.guard';
import type { TerminalPrincipal } from '../schools/terminals.service';
import { noneMatch } from './byte-ranges';
import { ByteServingService } from './byte-serving.service';
import { DeliveryRepository } from './delivery.repository';
import { ManifestService } from './manifest.service';
import { ReceiptsService } from './receipts.service';
import { InventoryDto, ReceiptDto } from './sync.dto';

/** Terminal sync (API.md): anything not the terminal's own school answers 404. */
@ApiTags('sync')
@ApiBearerAuth()
@Controller('sync')
@Public()
@UseGuards(TerminalGuard)
export class SyncController {
  constructor(
    private readonly manifests: ManifestService,
    private readonly receipts: ReceiptsService,
    private readonly bytes: ByteServingService,
    private readonly repo: DeliveryRepository,
  ) {}

  /** The school's signed manifest, precomputed: one row read; If-None-Match -> 304. */
  @Get('manifest')
  @ApiOkResponse({ description: '{payload, signature, keyId}; payload is the signed JSON text' })
  async manifest(
    @CurrentTerminal() t: TerminalPrincipal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const m = await this.manifests.current(t.schoolId);
    res.setHeader('ETag', m.etag);
    res.setHeader('Cache-Control', 'private, no-cache');
    if (noneMatch(req.headers['if-none-match'], m.etag)) {
      res.status(304).end();
      return;
    }
    res.status(200).type('application/json').send(m.body);
  }

  @Get('bundles/:id')
  @Head('bundles/:id')
  async bundle(
    @CurrentTerminal() t: TerminalPrincipal,
    @Param('id', IdPipe) id: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const bundle = await this.repo.bundleForSchool(id, t.schoolId);
    if (!bundle) throw AppError.notFound('Bundle');
    await this.bytes.send(req, res, {
      sha256: bundle.sha256,
      size: bundle.size,
      contentType: 'application/x-tar',
      fileName: `classcast-bundle-${id}.tar`,
      schoolId: t.schoolId,
      terminalId: t.terminalId,
      bundleId: id,
    });
  }

  /** One file the school is entitled to: in its manifest's lessons, or a patch base. */
  @Get('files/:sha256')
  @Head('files/:sha256')
  async file(
    @CurrentTerminal() t: TerminalPrincipal,
    @Param('sha256') sha256: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (!SHA256_HEX.test(sha256)) throw AppError.notFound('File');
    const file = await this.repo.entitledFile(sha256, t.schoolId);
    if (!file) throw AppError.notFound('File');
    await this.bytes.send(req, res, {
      sha256,
      size: file.size,
      contentType: file.mediaType || 'application/octet-stream',
      schoolId: t.schoolId,
      terminalId: t.terminalId,
      bundleId: null,
    });
  }

  @Post('receipts')
  @HttpCode(200)
  receipt(@CurrentTerminal() t: TerminalPrincipal, @Body() body: ReceiptDto) {
    return this.receipts.receipt(t, body);
  }

  @Post('inventory')
  @HttpCode(200)
  inventory(@CurrentTerminal() t: TerminalPrincipal, @Body() body: InventoryDto) {
    return this.receipts.inventory(t, body);
  }
}
