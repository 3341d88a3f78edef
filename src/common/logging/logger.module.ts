import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import { LoggerModule as PinoModule } from 'nestjs-pino';
import { ENV, Env } from '../../config/env';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** JSON logs with a request id per request; credentials and tokens never reach a log line. */
export const LoggerModule = PinoModule.forRootAsync({
  inject: [ENV],
  useFactory: (env: Env) => ({
    pinoHttp: {
      level: env.logLevel,
      genReqId: (req: IncomingMessage) => {
        const given = req.headers['x-request-id'];
        return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      },
      // Bound once on the root logger: as customProps they cost a child logger and a
      // stringify on every request, a tenth of a manifest poll's CPU.
      base: { pid: process.pid, hostname: hostname(), service: 'classcast', role: env.role },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'res.headers["set-cookie"]',
          'req.headers["upload-metadata"]',
          '*.password',
          '*.currentPassword',
          '*.newPassword',
          '*.token',
          '*.accessToken',
        ],
        censor: '[redacted]',
      },
      autoLogging: { ignore: (req: IncomingMessage) => req.url === '/health' },
    },
  }),
});
