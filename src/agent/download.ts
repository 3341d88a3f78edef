import { statfs } from 'node:fs/promises';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { AgentError } from './errors';
import { errnoCode, readJson, writeJson } from './fs-atomic';
import { httpError, readText, type HttpClient } from './http';
import type { AgentLogger } from './log';
import { TokenBucket, backoffMs, sleep } from './rate';

export interface DownloadSpec {
  url: string;
  size: number;
  sha256: string;
  /** The data is kept at `<partial>` and its progress at `<partial>.json` until it completes. */
  partial: string;
}

export interface DownloadOptions {
  client: HttpClient;
  log: AgentLogger;
  /** Parallel range requests: on a 600 ms link one TCP stream rarely fills the pipe. */
  connections?: number;
  bucket?: TokenBucket;
  signal?: AbortSignal;
  segmentBytes?: number;
  /** Consecutive failures without a single new byte before a connection gives up. */
  maxAttempts?: number;
  retryBaseMs?: number;
  onProgress?: (have: number, total: number, received: number) => void;
  /** Free bytes where the partial file lives (injectable for tests). */
  freeBytes?: (dir: string) => Promise<number>;
  idleTimeoutMs?: number;
}

export interface DownloadResult {
  /** Bytes that crossed the network in this run. */
  received: number;
  /** Bytes already on disk from earlier runs when this one started. */
  resumedFrom: number;
  requests: number;
}

interface PartialMeta {
  sha256: string;
  size: number;
  segmentBytes: number;
  /** Strong ETag of the first answer; sent back in If-Range. */
  etag?: string;
  /** Bytes present at the start of each segment. */
  got: number[];
}

const DEFAULT_SEGMENT = 1024 * 1024;
const SAVE_EVERY_MS = 1000;

/**
 * Downloads one immutable resource into a partial file with byte-exact progress kept beside it,
 * so a cut connection, a killed agent or a reboot loses nothing already written: the next run asks
 * only for the missing ranges (Range + If-Range with the strong ETag). Several connections fetch
 * disjoint ranges in parallel. The caller hashes the finished file.
 * @throws AgentError disk_full, bundle_refused (size or identity mismatch), server_refused,
 *   server_unavailable (retries exhausted), outside_window (aborted by the signal).
 */
export async function downloadRanges(
  spec: DownloadSpec,
  opts: DownloadOptions,
): Promise<DownloadResult> {
  const metaPath = `${spec.partial}.json`;
  const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT;
  const count = Math.max(1, Math.ceil(spec.size / segmentBytes));
  let meta = await readJson<PartialMeta>(metaPath);
  if (
    !meta ||
    meta.sha256 !== spec.sha256 ||
    meta.size !== spec.size ||
    meta.segmentBytes !== segmentBytes ||
    meta.got.length !== count
  ) {
    meta = {
      sha256: spec.sha256,
      size: spec.size,
      segmentBytes,
      got: new Array<number>(count).fill(0),
    };
  }
  const m = meta;
  const segLen = (i: number) => Math.min(segmentBytes, spec.size - i * segmentBytes);
  const have = () => m.got.reduce((a, b) => a + b, 0);
  const resumedFrom = have();
  const missing = spec.size - resumedFrom;
  if (missing > 0) await checkSpace(spec.partial, missing, opts);

  const handle = await openPartial(spec.partial);
  const claimed = new Array<boolean>(count).fill(false);
  const result: DownloadResult = { received: 0, resumedFrom, requests: 0 };
  let lastSave = Date.now();
  let fatal: Error | undefined;
  const save = async (force = false) => {
    if (!force && Date.now() - lastSave < SAVE_EVERY_MS) return;
    lastSave = Date.now();
    await writeJson(metaPath, m);
  };

  const claim = (connections: number): { first: number; last: number } | undefined => {
    const first = m.got.findIndex((g, i) => !claimed[i] && g < segLen(i));
    if (first < 0) return undefined;
    const open = m.got.filter((g, i) => !claimed[i] && g < segLen(i)).length;
    const maxRun = Math.max(1, Math.min(64, Math.ceil(open / connections)));
    let last = first;
    while (
      last + 1 < count &&
      last - first + 1 < maxRun &&
      !claimed[last + 1] &&
      m.got[last + 1] === 0
    ) {
      last += 1;
    }
    for (let i = first; i <= last; i += 1) claimed[i] = true;
    return { first, last };
  };

  const fetchRun = async (first: number, last: number): Promise<number> => {
    const start = first * segmentBytes + m.got[first];
    const end = last * segmentBytes + segLen(last) - 1;
    const headers: Record<string, string> = { range: `bytes=${start}-${end}` };
    if (m.etag) headers['if-range'] = m.etag;
    result.requests += 1;
    const res = await opts.client.request(spec.url, {
      headers,
      signal: opts.signal,
      idleTimeoutMs: opts.idleTimeoutMs,
    });
    const status = res.statusCode ?? 0;
    const etag = strongEtag(res.headers.etag);
    if (status === 416) {
      res.resume();
      throw new AgentError(
        'bundle_refused',
        `${spec.url}: the server has no bytes ${start}-${end} (size changed?)`,
      );
    }
    if (status !== 206 && status !== 200)
      throw httpError(status, res.headers, await readText(res, 65536), spec.url);
    if (status === 200 && start === 0 && end === spec.size - 1) {
      // A server without range support answering the whole file to a whole-file request.
      m.etag = etag;
      return pump(res, 0, end);
    }
    if (status === 200 || (m.etag && etag && etag !== m.etag)) {
      // The representation changed under the same URL (or the server ignores ranges): what we
      // hold may belong to other bytes, so start over from zero.
      res.destroy();
      m.got.fill(0);
      m.etag = etag;
      await save(true);
      throw new AgentError(
        'server_unavailable',
        `${spec.url}: the resource changed, starting over`,
      );
    }
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
    if (!range || Number(range[1]) !== start || Number(range[2]) !== end) {
      res.destroy();
      throw new AgentError(
        'bundle_refused',
        `${spec.url}: answered range ${String(res.headers['content-range'])} for ${start}-${end}`,
      );
    }
    if (range[3] !== '*' && Number(range[3]) !== spec.size) {
      res.destroy();
      throw new AgentError(
        'bundle_refused',
        `${spec.url}: is ${range[3]} bytes, the manifest says ${spec.size}`,
      );
    }
    if (etag && !m.etag) m.etag = etag;
    return pump(res, start, end);
  };

  /** Writes the body at its offset, advancing the per-segment progress only after each write. */
  const pump = async (res: IncomingMessage, start: number, end: number): Promise<number> => {
    let pos = start;
    let written = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        if (opts.bucket) await opts.bucket.take(chunk.length, opts.signal);
        const len = Math.min(chunk.length, end + 1 - pos);
        if (len <= 0) break;
        try {
          await handle.write(chunk, 0, len, pos);
        } catch (err) {
          throw diskError(err, spec.partial);
        }
        advance(pos, len);
        pos += len;
        written += len;
        result.received += len;
        opts.onProgress?.(have(), spec.size, result.received);
        await save();
      }
    } finally {
      res.destroy();
    }
    return written;
  };

  const advance = (pos: number, len: number) => {
    let at = pos;
    let left = len;
    while (left > 0) {
      const i = Math.floor(at / segmentBytes);
      const take = Math.min(left, (i + 1) * segmentBytes - at);
      m.got[i] = at + take - i * segmentBytes;
      at += take;
      left -= take;
    }
  };

  const worker = async (connections: number) => {
    let failures = 0;
    for (;;) {
      if (fatal || opts.signal?.aborted) return;
      const run = claim(connections);
      if (!run) return;
      try {
        const written = await fetchRun(run.first, run.last);
        if (written > 0) failures = 0;
      } catch (err) {
        if (err instanceof AgentError && err.code !== 'server_unavailable') {
          fatal ??= err;
          return;
        }
        if (opts.signal?.aborted) return;
        failures += 1;
        const wait =
          err instanceof AgentError && err.retryAfterSeconds !== undefined
            ? err.retryAfterSeconds * 1000
            : backoffMs(failures, opts.retryBaseMs ?? 500, 60_000);
        opts.log.warn(
          { url: spec.url, failures, retryInMs: wait, err: (err as Error).message },
          'download interrupted; resuming from the last byte written',
        );
        if (failures >= (opts.maxAttempts ?? 12)) {
          fatal ??= new AgentError(
            'server_unavailable',
            `${spec.url}: ${(err as Error).message} (gave up after ${failures} attempts)`,
          );
          return;
        }
        await sleep(wait, opts.signal);
      } finally {
        for (let i = run.first; i <= run.last; i += 1) claimed[i] = false;
      }
    }
  };

  try {
    const n = Math.max(1, Math.min(opts.connections ?? 1, 16));
    await Promise.all(Array.from({ length: n }, () => worker(n)));
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
    await save(true).catch((err: unknown) => {
      fatal ??= diskError(err, metaPath);
    });
  }
  if (fatal) throw fatal;
  if (opts.signal?.aborted) {
    throw new AgentError('outside_window', 'download paused: the receive window closed');
  }
  if (have() !== spec.size) throw new AgentError('server_unavailable', `${spec.url}: incomplete`);
  return result;
}

/** Forget the ranges [start, end) (their bytes proved bad): they are fetched again. */
export async function invalidateRanges(partial: string, ranges: [number, number][]): Promise<void> {
  const metaPath = `${partial}.json`;
  const meta = await readJson<PartialMeta>(metaPath);
  if (!meta) return;
  for (const [start, end] of ranges) {
    const first = Math.floor(start / meta.segmentBytes);
    const last = Math.floor(Math.max(start, end - 1) / meta.segmentBytes);
    for (let i = first; i <= last && i < meta.got.length; i += 1) meta.got[i] = 0;
  }
  await writeJson(metaPath, meta);
}

function strongEtag(value: string | undefined): string | undefined {
  return value && !value.startsWith('W/') ? value : undefined;
}

async function openPartial(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r+');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    return open(path, 'w+');
  }
}

export async function freeBytesAt(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

async function checkSpace(partial: string, missing: number, opts: DownloadOptions): Promise<void> {
  const free = await (opts.freeBytes ?? freeBytesAt)(dirname(partial));
  if (free < missing) {
    throw new AgentError(
      'disk_full',
      `not enough disk space for ${partial}: ${mb(missing)} MB still to download, ${mb(free)} MB free; free some space and run sync again (the download resumes)`,
    );
  }
}

export function diskError(err: unknown, path: string): Error {
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new AgentError(
      'disk_full',
      `disk full while writing ${path}: free some space and run sync again (what was written is kept and the download resumes)`,
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
