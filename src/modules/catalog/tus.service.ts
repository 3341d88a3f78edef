import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { EVENTS, MemoryLocker, Server } from '@tus/server';
import type { Upload as TusUpload } from '@tus/utils';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../common/errors/app-error';
import { toErrorBody } from '../../common/errors/error.filter';
import { ENV, Env } from '../../config/env';
import { AuthedRequest } from '../auth/decorators';
import { Principal } from '../auth/principal';
import { StorageService } from '../storage/storage.service';
import { HashingFileStore } from './hashing-file-store';
import { IngestService } from './ingest.service';
import { UploadsRepository } from './uploads.repository';

export const TUS_PATH = '/api/v1/uploads';
const SHA256 = /^[0-9a-f]{64}$/;

interface TusError {
  status_code: number;
  body: string;
}

function principalOf(req: IncomingMessage): Principal {
  const p = (req as AuthedRequest).principal;
  if (!p) throw new AppError('unauthorized', 'Send a token: Authorization: Bearer <token>');
  return p;
}

/**
 * tus 1.0 (creation, termination) for big files over bad links. Bytes land in a staging area
 * under DATA_DIR; only a complete, verified upload becomes a blob and a file of the draft.
 */
@Injectable()
export class TusService implements OnModuleInit {
  private readonly logger = new Logger(TusService.name);
  private server!: Server;
  private store!: HashingFileStore;

  constructor(
    private readonly ingest: IngestService,
    private readonly uploads: UploadsRepository,
    private readonly storage: StorageService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  get directory(): string {
    return join(this.env.dataDir, 'uploads');
  }

  onModuleInit(): void {
    mkdirSync(this.directory, { recursive: true });
    this.store = new HashingFileStore({ directory: this.directory });
    this.server = new Server({
      path: TUS_PATH,
      datastore: this.store,
      relativeLocation: true,
      respectForwardedHeaders: this.env.trustProxy,
      maxSize: this.env.uploadMaxFileBytes,
      locker: new MemoryLocker(),
      namingFunction: () => randomBytes(16).toString('hex'),
      onIncomingRequest: (req, _res, id) => this.authorise(req, id),
      onUploadCreate: (req, res, upload) => this.onCreate(req, res, upload),
      onUploadFinish: (req, res, upload) => this.onFinish(req, res, upload),
      onResponseError: (_req, res, err) => this.toTusError(res, err),
    });
    this.server.on(EVENTS.POST_TERMINATE, (_req: unknown, _res: unknown, id: string) => {
      this.uploads
        .delete(id)
        .catch((err: unknown) => this.logger.warn({ err, id }, 'could not forget upload'));
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.server.handle(req, res);
  }

  /** Removes an upload's staged bytes and bookkeeping (expiry and failed verification). */
  async remove(id: string): Promise<void> {
    this.store.forget(id);
    // Not FileStore.remove: it gives up on the metadata when the bytes are already gone.
    for (const file of [id, `${id}.json`]) {
      await unlink(join(this.directory, file)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    await this.uploads.delete(id);
  }

  private async authorise(req: IncomingMessage, id: string): Promise<void> {
    const p = principalOf(req);
    if (req.method === 'POST') return;
    const upload = await this.uploads.findById(id);
    if (!upload || (p.role !== 'admin' && upload.userId !== p.id)) {
      throw new AppError('not_found', 'No upload has this id (uploads idle for a day are removed)');
    }
    if (req.method === 'PATCH') await this.uploads.touch(id);
  }

  private async onCreate(req: IncomingMessage, res: ServerResponse, upload: TusUpload) {
    const p = principalOf(req);
    const meta = upload.metadata ?? {};
    const missing = ['lessonId'].filter((k) => !meta[k]);
    if (missing.length || (!meta.path && !meta.filename)) {
      throw new AppError(
        'validation_failed',
        'Upload-Metadata needs lessonId and path (or filename)',
        [
          ...missing.map((field) => ({ field, message: 'required in Upload-Metadata' })),
          ...(!meta.path && !meta.filename
            ? [{ field: 'path', message: 'required in Upload-Metadata' }]
            : []),
        ],
      );
    }
    if (upload.size === undefined) {
      throw new AppError(
        'validation_failed',
        'Send Upload-Length: deferred lengths are not accepted',
        [{ field: 'Upload-Length', message: 'required' }],
      );
    }
    const sha256 = meta.sha256?.toLowerCase();
    if (sha256 !== undefined && !SHA256.test(sha256)) {
      throw new AppError('validation_failed', 'sha256 must be 64 hexadecimal characters', [
        { field: 'sha256', message: 'not a hex SHA-256' },
      ]);
    }
    if (!/^[0-9a-f-]{36}$/i.test(meta.lessonId ?? '')) throw AppError.notFound('Lesson');
    const { lesson, path } = await this.ingest.precheck(
      p,
      meta.lessonId as string,
      meta.path || (meta.filename as string),
      upload.size,
    );
    await this.uploads.insert({
      id: upload.id,
      userId: p.id,
      lessonId: lesson.id,
      bureauId: lesson.bureauId,
      path,
      filename: meta.filename ?? null,
      size: upload.size,
      expectedSha256: sha256 ?? null,
    });
    return res;
  }

  private async onFinish(req: IncomingMessage, res: ServerResponse, upload: TusUpload) {
    const p = principalOf(req);
    const record = await this.uploads.findById(upload.id);
    if (!record) throw AppError.notFound('Upload');
    const filePath = join(this.directory, upload.id);
    try {
      const digest = this.store.takeDigest(upload.id, upload.size ?? -1);
      const staged = digest
        ? { path: filePath, size: upload.size ?? 0, ...digest }
        : await this.storage.stageExisting(filePath);
      if (record.expectedSha256 && record.expectedSha256 !== staged.sha256) {
        throw new AppError(
          'checksum_mismatch',
          `The upload's sha256 is ${staged.sha256}, not the ${record.expectedSha256} its metadata declared; upload the file again`,
        );
      }
      const { file } = await this.ingest.accept(
        p,
        {
          lessonId: record.lessonId,
          path: record.path,
          fileName: record.filename ?? record.path,
          kind: 'tus',
        },
        staged,
      );
      res.setHeader('Upload-Sha256', file.sha256);
      return res;
    } catch (err) {
      this.logger.warn(
        { uploadId: upload.id, err: err instanceof Error ? err.message : err },
        'upload rejected',
      );
      throw err;
    } finally {
      // Accepted or rejected, the staging copy and its bookkeeping are done with.
      await this.remove(upload.id);
    }
  }

  /** tus answers in plain text by default; Classcast errors keep the API's JSON shape. */
  private toTusError(res: ServerResponse, err: unknown): TusError | undefined {
    if (err instanceof AppError) {
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
      return { status_code: err.status, body: JSON.stringify(toErrorBody(err)) };
    }
    const known = err as Partial<TusError>;
    if (typeof known.status_code === 'number' && known.status_code < 500) {
      const code = known.status_code === 413 ? 'payload_too_large' : 'bad_request';
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      return {
        status_code: known.status_code,
        body: JSON.stringify({
          statusCode: known.status_code,
          error: known.status_code === 413 ? 'Payload Too Large' : 'Bad Request',
          code:
            known.status_code === 404 ? 'not_found' : known.status_code === 409 ? 'conflict' : code,
          message: (known.body ?? 'The upload request is invalid').trim(),
          details: [],
        }),
      };
    }
    this.logger.error({ err }, 'tus request failed');
    return undefined;
  }
}
