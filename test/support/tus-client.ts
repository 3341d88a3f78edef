import { createReadStream } from 'node:fs';
import { request } from 'node:http';
import { Readable } from 'node:stream';

export interface TusResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export const encodeMetadata = (meta: Record<string, string>) =>
  Object.entries(meta)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');

/** A bare tus 1.0 client over node:http, so the tests see every header the server sends. */
export function tusRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: Buffer | Readable,
): Promise<TusResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers: { 'Tus-Resumable': '1.0.0', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

export async function tusCreate(
  base: string,
  token: string,
  size: number,
  meta: Record<string, string>,
): Promise<TusResponse & { location?: string }> {
  const res = await tusRequest(`${base}/api/v1/uploads`, 'POST', {
    Authorization: `Bearer ${token}`,
    'Upload-Length': String(size),
    'Upload-Metadata': encodeMetadata(meta),
  });
  const location = res.headers.location as string | undefined;
  return { ...res, location: location ? new URL(location, base).toString() : undefined };
}

export async function tusOffset(
  location: string,
  token: string,
): Promise<TusResponse & { offset: number }> {
  const res = await tusRequest(location, 'HEAD', { Authorization: `Bearer ${token}` });
  return { ...res, offset: Number(res.headers['upload-offset'] ?? -1) };
}

export function tusPatchFile(
  location: string,
  token: string,
  file: string,
  offset: number,
  end?: number,
) {
  const stream = createReadStream(file, { start: offset, end, highWaterMark: 1024 * 1024 });
  return tusRequest(
    location,
    'PATCH',
    {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/offset+octet-stream',
      'Upload-Offset': String(offset),
    },
    stream,
  );
}

export function tusPatch(location: string, token: string, offset: number, bytes: Buffer) {
  return tusRequest(
    location,
    'PATCH',
    {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/offset+octet-stream',
      'Upload-Offset': String(offset),
    },
    bytes,
  );
}
