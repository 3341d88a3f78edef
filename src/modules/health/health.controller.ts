import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { Response } from 'express';
import Redis from 'ioredis';
import { REDIS } from '../../common/redis/redis.module';
import { Public } from '../auth/decorators';
import { StorageService } from '../storage/storage.service';

@ApiTags('operations')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicator: HealthIndicatorService,
    private readonly storage: StorageService,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  /** Liveness: the process answers. */
  @Get()
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: PostgreSQL answers, Redis answers, the blob store takes writes. */
  @Get('ready')
  async ready(@Res() res: Response): Promise<void> {
    try {
      const result = await this.health.check([
        () => this.db.pingCheck('database', { timeout: 3000 }),
        async () => {
          const check = this.indicator.check('redis');
          try {
            await this.redis.ping();
            return check.up();
          } catch (err) {
            return check.down({ message: err instanceof Error ? err.message : String(err) });
          }
        },
        async () => {
          const check = this.indicator.check('storage');
          try {
            await this.storage.checkWritable();
            return check.up();
          } catch (err) {
            return check.down({ message: err instanceof Error ? err.message : String(err) });
          }
        },
      ]);
      res.status(200).json(result);
    } catch (err) {
      const body =
        err && typeof err === 'object' && 'getResponse' in err
          ? (err as { getResponse(): unknown }).getResponse()
          : { status: 'error' };
      res.status(503).json(body);
    }
  }
}
