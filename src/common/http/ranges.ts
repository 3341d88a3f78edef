import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export type RangeResult =
  { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * RFC 9110 byte ranges for one representation of `size` bytes. A single range or suffix range is
 * served; anything we choose not to serve (several ranges, bad syntax, another unit) is ignored and
 * the whole body is sent, as the RFC allows.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'full' };
  const match = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return { kind: 'full' };
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Number(match[2]);
  if (match[2] !== '' && end < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

export interface Representation {
  size: number;
  /** A strong validator, quoted, e.g. "\"<sha256>\"". */
  etag: string;
  contentType: string;
  cacheControl?: string;
  fileName?: string;
  open(range?: { start: number; end: number }): Promise<Readable>;
}

/** Sends bytes with Range, If-Range, HEAD, 206 and 416, never content-encoded. */
export async function sendRepresentation(
  req: Request,
  res: Response,
  rep: Representation,
): Promise<void> {
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', rep.etag);
  res.setHeader('Content-Type', rep.contentType);
  res.setHeader('Cache-Control', rep.cacheControl ?? 'private, immutable, no-transform');
  if (rep.fileName) res.setHeader('Content-Disposition', `attachment; filename="${rep.fileName}"`);
  const ifRange = req.headers['if-range'];
  // A Range is honoured only while the client's copy is the same representation.
  const range: RangeResult =
    ifRange && ifRange !== rep.etag ? { kind: 'full' } : parseRange(req.headers.range, rep.size);
  if (range.kind === 'unsatisfiable') {
    res.status(416).setHeader('Content-Range', `bytes */${rep.size}`);
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({
        statusCode: 416,
        error: 'Range Not Satisfiable',
        code: 'range_not_satisfiable',
        message: `The file has ${rep.size} bytes; ask for a range inside them`,
        details: [],
      }),
    );
    return;
  }
  const partial = range.kind === 'partial' ? range : null;
  res.status(partial ? 206 : 200);
  res.setHeader('Content-Length', String(partial ? partial.end - partial.start + 1 : rep.size));
  if (partial) res.setHeader('Content-Range', `bytes ${partial.start}-${partial.end}/${rep.size}`);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const body = await rep.open(partial ?? undefined);
  await pipeline(body, res).catch(() => {
    // The client went away mid-transfer; it resumes with Range.
    body.destroy();
  });
}
