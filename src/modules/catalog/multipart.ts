import busboy from 'busboy';
import type { Request } from 'express';
import { Readable } from 'node:stream';
import { AppError } from '../../common/errors/app-error';
import { StagedFile } from '../storage/blob-store';

export interface MultipartFile {
  staged: StagedFile;
  fileName: string;
  declaredType: string;
  fields: Record<string, string>;
}

const closeAfter = { Connection: 'close' };

/**
 * Streams the one `file` part of a multipart form into staging (never into memory) and collects
 * the small text fields around it, whatever their order.
 */
export function readMultipartFile(
  req: Request,
  stage: (source: Readable) => Promise<StagedFile>,
  discard: (staged: StagedFile) => Promise<void>,
): Promise<MultipartFile> {
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    return Promise.reject(
      new AppError(
        'unsupported_media_type',
        'Send the file as multipart/form-data with a field named "file" (and optionally "path")',
      ),
    );
  }
  return new Promise<MultipartFile>((resolve, reject) => {
    let settled = false;
    let upload: {
      promise: Promise<StagedFile>;
      fileName: string;
      declaredType: string;
      stream: Readable;
    } | null = null;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      req.unpipe();
      // A file staged after the request already failed must not linger in staging.
      upload?.promise.then(discard, () => undefined).catch(() => undefined);
      const appErr =
        err instanceof AppError
          ? new AppError(err.code, err.message, err.details, { ...err.headers, ...closeAfter })
          : new AppError(
              'bad_request',
              'The multipart body could not be read; send it again',
              [],
              closeAfter,
            );
      reject(appErr);
    };
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: { files: 1, fields: 10, fieldSize: 8192, parts: 12 },
      });
    } catch {
      fail(new AppError('bad_request', 'The multipart Content-Type has no boundary'));
      return;
    }
    const fields: Record<string, string> = {};

    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || upload) {
        stream.resume();
        return;
      }
      const promise = stage(stream);
      upload = { promise, fileName: info.filename ?? '', declaredType: info.mimeType, stream };
      // An oversized or broken file fails fast, without waiting for the rest of the body.
      promise.catch(fail);
    });
    parser.on('error', (err) => {
      upload?.stream.destroy(err instanceof Error ? err : new Error(String(err)));
      fail(
        new AppError(
          'truncated_upload',
          'The upload ended before the form was complete; send it again',
        ),
      );
    });
    parser.on('close', () => {
      if (settled) return;
      if (!upload) {
        fail(
          new AppError('validation_failed', 'The form has no file', [
            { field: 'file', message: 'a part named "file" is required' },
          ]),
        );
        return;
      }
      const { promise, fileName, declaredType } = upload;
      promise.then((staged) => {
        if (settled) return;
        settled = true;
        resolve({ staged, fileName, declaredType, fields });
      }, fail);
    });
    // A client that disconnects mid-body: the file stream must error, or staging would wait forever.
    req.on('close', () => {
      if (!req.complete) {
        upload?.stream.destroy(new Error('client disconnected'));
        parser.destroy();
        fail(
          new AppError(
            'truncated_upload',
            'The upload ended before all bytes arrived; send it again',
          ),
        );
      }
    });
    req.pipe(parser);
  });
}
