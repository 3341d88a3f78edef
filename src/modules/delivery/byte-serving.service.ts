import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ENV, Env } from '../../config/env';
import { contentEtag } from '../../protocol/sync';
import { relativeBlobPath } from '../storage/fs-blob.driver';
import { StorageService } from '../storage/storage.service';
import { ifRangeHolds, noneMatch, parseRangeSet } from './byte-ranges';
import { DeliveryRepository } from './delivery.repository';

export const IMMUTABLE = 'private, immutable, no-transform';

export interface Served {
  sha256: string;
  size: number;
  contentType: string;
  fileName?: string;
  /** Who receives it: bytes are counted for the school (monthly cap) and the delivery. */
  schoolId: string;
  terminalId: string;
  bundleId: string | null;
}

/**
 * Sends immutable, content-addressed bytes with RFC 9110 ranges (single, suffix and multipart),
 * If-Range on the strong ETag `"<sha256>"`, 206/416 and HEAD; never content-encoded. The bytes
 * come from the blob store (embedded), from nginx (X-Accel-Redirect) or from S3 (presigned).
 */
@Injectable()
export class ByteServingService {
  private readonly logger = new Logger(ByteServingService.name);

  constructor(
    private readonly storage: StorageService,
    private readonly repo: DeliveryRepository,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async send(req: Request, res: Response, s: Served): Promise<void> {
    const etag = contentEtag(s.sha256);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', IMMUTABLE);
    res.setHeader('Content-Type', s.contentType);
    if (s.fileName) res.setHeader('Content-Disposition', `attachment; filename="${s.fileName}"`);
    if (noneMatch(req.headers['if-none-match'], etag)) {
      res.status(304).end();
      return;
    }
    const ifRange = req.header('if-range');
    const set = ifRangeHolds(ifRange, etag)
      ? parseRangeSet(req.headers.range, s.size)
      : ({ kind: 'full' } as const);
    if (set.kind === 'unsatisfiable') {
      res.status(416).setHeader('Content-Range', `bytes */${s.size}`);
      res.setHeader('Content-Type', 'application/json');
      res.end(
        JSON.stringify({
          statusCode: 416,
          error: 'Range Not Satisfiable',
          code: 'range_not_satisfiable',
          message: `The file has ${s.size} bytes; ask for a range inside them`,
          details: [],
        }),
      );
      return;
    }
    if (req.method !== 'HEAD' && this.env.syncBytes !== 'embedded') {
      const requested =
        set.kind === 'full' ? s.size : set.ranges.reduce((n, r) => n + r.end - r.start + 1, 0);
      this.count(s, requested);
      if (this.env.syncBytes === 'x-accel') {
        // nginx serves the file and applies Range/If-Range itself against the same ETag.
        res.setHeader(
          'X-Accel-Redirect',
          `${this.env.syncAccelPrefix}${relativeBlobPath(s.sha256)}`,
        );
        res.setHeader('X-Accel-Buffering', 'no');
        res.status(200).end();
        return;
      }
      const url = await this.storage.presignedGet(s.sha256, this.env.syncPresignSeconds, {
        contentType: s.contentType,
        cacheControl: IMMUTABLE,
        fileName: s.fileName,
      });
      res.setHeader('Cache-Control', 'private, no-store');
      res.redirect(302, url);
      return;
    }
    if (set.kind === 'full' || set.ranges.length === 1) {
      const range = set.kind === 'full' ? null : set.ranges[0];
      res.status(range ? 206 : 200);
      res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : s.size));
      if (range) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${s.size}`);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      const body = await this.storage.open(s.sha256, range ?? undefined);
      await this.stream(s, body, res, true);
      return;
    }
    await this.multipart(req, res, s, set.ranges);
  }

  /** multipart/byteranges (RFC 9110 14.6), with an exact Content-Length. */
  private async multipart(
    req: Request,
    res: Response,
    s: Served,
    ranges: { start: number; end: number }[],
  ): Promise<void> {
    const boundary = `classcast-${randomBytes(12).toString('hex')}`;
    const heads = ranges.map(
      (r, i) =>
        `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${s.contentType}\r\n` +
        `Content-Range: bytes ${r.start}-${r.end}/${s.size}\r\n\r\n`,
    );
    const tail = `\r\n--${boundary}--\r\n`;
    const length =
      heads.reduce((n, h) => n + Buffer.byteLength(h), 0) +
      ranges.reduce((n, r) => n + r.end - r.start + 1, 0) +
      Buffer.byteLength(tail);
    res.status(206);
    res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
    res.setHeader('Content-Length', String(length));
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    for (let i = 0; i < ranges.length; i++) {
      if (!res.write(heads[i])) await new Promise((r) => res.once('drain', r));
      const body = await this.storage.open(s.sha256, ranges[i]);
      if (!(await this.stream(s, body, res, false))) return;
    }
    res.end(tail);
  }

  /** Pipes one part; false when the client went away (it resumes with Range). */
  private async stream(s: Served, body: Readable, res: Response, end: boolean): Promise<boolean> {
    let sent = 0;
    body.on('data', (chunk: Buffer) => (sent += chunk.length));
    try {
      await pipeline(body, res, { end });
      return true;
    } catch {
      body.destroy();
      return false;
    } finally {
      this.count(s, sent);
    }
  }

  private count(s: Served, bytes: number): void {
    if (bytes <= 0) return;
    this.repo
      .countSent(s.schoolId, s.terminalId, s.bundleId, bytes)
      .catch((err: unknown) =>
        this.logger.warn({ err, schoolId: s.schoolId }, 'could not count bytes sent'),
      );
  }
}
