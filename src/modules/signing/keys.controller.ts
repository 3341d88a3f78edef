import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { PublishedKey, SigningService } from './signing.service';

@ApiTags('packaging')
@ApiBearerAuth()
@Controller('keys')
export class KeysController {
  constructor(private readonly signing: SigningService) {}

  /** The public keys that sign bundles and manifests, the current one first. */
  @Get()
  async list(): Promise<{ keys: PublishedKey[] }> {
    return { keys: await this.signing.publishedKeys() };
  }
}
