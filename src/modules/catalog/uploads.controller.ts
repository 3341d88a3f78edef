import { All, Controller, Options, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public, Roles } from '../auth/decorators';
import { TusService } from './tus.service';

/** The tus 1.0 endpoint; @tus/server speaks the protocol, TusService adds Classcast's rules. */
@ApiTags('catalog')
@ApiBearerAuth()
@Controller('uploads')
export class UploadsController {
  constructor(private readonly tus: TusService) {}

  @Options(['', ':id'])
  @Public()
  @ApiExcludeEndpoint()
  options(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.tus.handle(req, res);
  }

  @All(['', ':id'])
  @Roles('bureau')
  @ApiOperation({
    summary: 'tus 1.0 resumable upload (POST creates, HEAD/PATCH resume, DELETE terminates)',
    description:
      'Upload-Metadata keys: lessonId, path, filename, sha256 (hex, whole file; verified on completion, 460 checksum_mismatch on a mismatch).',
  })
  handle(@Req() req: Request, @Res() res: Response): Promise<void> {
    if (req.method === 'GET') {
      res.status(405).json({
        statusCode: 405,
        error: 'Method Not Allowed',
        code: 'method_not_allowed',
        message: 'Uploads cannot be downloaded; list the lesson files instead',
        details: [],
      });
      return Promise.resolve();
    }
    return this.tus.handle(req, res);
  }
}
