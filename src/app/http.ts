import { INestApplication, RequestMethod } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import cookieParser from 'cookie-parser';
import express, { NextFunction, Request, Response } from 'express';
import { AppError } from '../common/errors/app-error';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { AllExceptionsFilter } from '../common/errors/error.filter';
import { createValidationPipe } from '../common/validation/validation.pipe';
import { Env } from '../config/env';
import { mountQueueDashboard } from './queue-dashboard';
import { MetricsService } from '../modules/metrics/metrics.service';
import { httpMetrics } from '../modules/metrics/http-metrics.middleware';
import { mountDashboard } from '../modules/dashboard/dashboard-static';

export const API_PREFIX = 'api/v1';

/** Everything about the HTTP surface that is not a route: prefix, filters, headers, docs. */
export function configureHttp(app: NestExpressApplication, env: Env): void {
  app.useLogger(app.get(Logger));
  app.set('trust proxy', env.trustProxy);
  app.disable('x-powered-by');
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'", "'unsafe-inline'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:', 'blob:'],
          connectSrc: ["'self'"],
          upgradeInsecureRequests: null,
        },
      },
      crossOriginResourcePolicy: { policy: 'same-site' },
    }),
  );
  app.use(httpMetrics(app.get(MetricsService)));
  app.use(cookieParser());
  mountQueueDashboard(app);
  mountDashboard(app);
  if (env.corsOrigins.length) {
    app.enableCors({
      origin: env.corsOrigins.includes('*') ? true : env.corsOrigins,
      credentials: false,
      exposedHeaders: [
        'Location',
        'Upload-Offset',
        'Upload-Length',
        'Tus-Resumable',
        'Upload-Metadata',
        'Retry-After',
        'ETag',
      ],
    });
  }
  app.use(jsonBody());
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(createValidationPipe());
  app.enableShutdownHooks();
  setupDocs(app);
}

function setupDocs(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('Classcast API')
    .setDescription(
      'Lessons for remote schools over satellite broadband. Routes live under /api/v1; ' +
        'health, metrics and these docs at the server root.',
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    useGlobalPrefix: false,
    swaggerOptions: { persistAuthorization: true },
  });
}

/**
 * JSON bodies, with parse errors turned into Classcast errors here: past this point the framework
 * would flatten them into a generic 400 and lose the reason.
 */
function jsonBody() {
  const parse = express.json({ limit: '1mb' });
  return (req: Request, res: Response, next: NextFunction) =>
    parse(req, res, (err?: unknown) => {
      if (!err) return next();
      const type = (err as { type?: string }).type;
      if (type === 'entity.parse.failed') {
        return next(
          new AppError(
            'malformed_json',
            'The request body is not valid JSON; check quotes and commas',
          ),
        );
      }
      if (type === 'entity.too.large') {
        return next(new AppError('payload_too_large', 'JSON bodies may be at most 1 MB'));
      }
      if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
        return next(
          new AppError('unsupported_media_type', 'Send JSON as UTF-8 without content encoding'),
        );
      }
      return next(new AppError('bad_request', 'The request body could not be read; send it again'));
    });
}
