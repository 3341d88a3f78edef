import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Request, Response } from 'express';
import { AppError } from './app-error';

export interface ErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  details: unknown[];
}

const HTTP_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  429: 'rate_limited',
};

/** body-parser raises plain errors with a `type`; they are the client's fault, never a 500. */
interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
}

export function errorBody(status: number, code: string, message: string, details: unknown[] = []) {
  const reason = status === 460 ? 'Checksum Mismatch' : (STATUS_CODES[status] ?? 'Error');
  return { statusCode: status, error: reason, code, message, details } satisfies ErrorBody;
}

export function toErrorBody(exception: unknown, req?: Request): ErrorBody {
  if (exception instanceof AppError) {
    return errorBody(exception.status, exception.code, exception.message, exception.details);
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 404 && req && /^Cannot [A-Z]+ /.test(exception.message)) {
      return errorBody(404, 'route_not_found', `No route ${req.method} ${req.path}`);
    }
    const response = exception.getResponse();
    const message =
      typeof response === 'object' && response && 'message' in response
        ? String(response.message)
        : exception.message;
    return errorBody(status, HTTP_CODES[status] ?? 'error', message);
  }
  const bp = exception as BodyParserError;
  if (bp && typeof bp.type === 'string' && typeof bp.status === 'number' && bp.expose) {
    if (bp.type === 'entity.parse.failed') {
      return errorBody(400, 'malformed_json', 'The request body is not valid JSON');
    }
    if (bp.type === 'entity.too.large') {
      return errorBody(413, 'payload_too_large', 'The request body is too large');
    }
    if (bp.type === 'charset.unsupported' || bp.type === 'encoding.unsupported') {
      return errorBody(415, 'unsupported_media_type', 'Send the body as UTF-8');
    }
    return errorBody(
      bp.status,
      HTTP_CODES[bp.status] ?? 'bad_request',
      'The request body is invalid',
    );
  }
  return errorBody(500, 'internal_error', 'Something went wrong on the server; try again later');
}

/** The one place that turns any thrown error into the error body of the API contract. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const body = toErrorBody(exception, req);
    if (body.statusCode >= 500) {
      this.logger.error({ err: exception, path: req.path }, 'unhandled error');
    }
    if (exception instanceof AppError) {
      for (const [name, value] of Object.entries(exception.headers)) res.setHeader(name, value);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(body.statusCode).json(body);
  }
}
