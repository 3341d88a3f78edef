import { Body, Controller, Get, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { Public } from '../auth/decorators';
import { PublishedKey, SigningService } from '../signing/signing.service';
import { EnrollDto } from './schools.dto';
import { TerminalGuard } from './terminal.guard';
import { TerminalsService } from './terminals.service';

@ApiTags('sync')
@Controller('sync')
@Public()
export class SyncEnrollController {
  constructor(
    private readonly terminals: TerminalsService,
    private readonly signing: SigningService,
  ) {}

  /** No token: the one-time code is the credential. Failed attempts count against guessing. */
  @Post('enroll')
  enroll(@Body() dto: EnrollDto, @Req() req: Request) {
    return this.terminals.enroll(dto, req.ip ?? 'unknown');
  }

  /** Keys a terminal may meet; a new key is signed by the old one, so rotations can be followed. */
  @Get('keys')
  @UseGuards(TerminalGuard)
  @ApiBearerAuth()
  async keys(): Promise<{ keys: Omit<PublishedKey, 'algorithm'>[] }> {
    const keys = await this.signing.publishedKeys();
    return { keys: keys.map(({ algorithm: _algorithm, ...rest }) => rest) };
  }
}
