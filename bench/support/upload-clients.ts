/**
 * The three ways the upload bench sends its file, all through curl so client-side cost and
 * timing are the same: raw PUT to the streaming sink (the anchor), multipart to
 * POST /lessons/:id/files, and tus (creation, then one PATCH with every byte).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Api } from './api';
import type { Cleanup } from './cleanup';
import { curl } from './curl';
import { killOnExit, stopChild, type BenchServer } from './server';

export interface Transfer {
  seconds: number;
  /** tus only: the creation POST and the one PATCH that carries every byte. */
  parts?: { createSeconds: number; patchSeconds: number };
}

export interface UploadContext {
  server: BenchServer;
  api: Api;
  bureauToken: string;
  sink: { url: string; pid: number };
  file: { path: string; bytes: number; sha256: string };
  workDir: string;
}

/** Starts bench/support/streaming-sink.js as a child process writing into `dir`. */
export async function startSink(
  cleanup: Cleanup,
  dir: string,
): Promise<{ url: string; pid: number }> {
  await mkdir(dir, { recursive: true });
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, 'streaming-sink.js'), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  killOnExit(child);
  cleanup.add('stop streaming sink', () => stopChild(child));
  if (!child.stdout || child.pid === undefined) throw new Error('the streaming sink did not start');
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the streaming sink exited with ${code}`)));
  });
  const { port } = JSON.parse(first) as { port: number };
  return { url: `http://127.0.0.1:${port}/`, pid: child.pid };
}

async function checkDraft(ctx: UploadContext, lessonId: string): Promise<void> {
  const files = await ctx.api.call<{ items: { sha256: string; size: number }[] }>(
    'GET',
    `/lessons/${lessonId}/versions/1/files`,
    { token: ctx.bureauToken },
  );
  const file = files.items[0];
  if (!file || file.sha256 !== ctx.file.sha256 || file.size !== ctx.file.bytes) {
    throw new Error(
      `lesson ${lessonId}: the draft does not hold the uploaded file: ${JSON.stringify(files)}`,
    );
  }
}

export async function uploadToSink(ctx: UploadContext, fsync: boolean): Promise<Transfer> {
  const body = join(ctx.workDir, 'response.json');
  const res = await curl([
    '-T',
    ctx.file.path,
    '-H',
    'Content-Type: application/octet-stream',
    '-o',
    body,
    `${ctx.sink.url}${fsync ? '?fsync=1' : ''}`,
  ]);
  const answer = JSON.parse(await readFile(body, 'utf8')) as { sha256: string };
  if (res.status !== 200 || answer.sha256 !== ctx.file.sha256) {
    throw new Error(`the sink answered ${res.status} ${JSON.stringify(answer)}`);
  }
  return { seconds: res.seconds };
}

export async function uploadMultipart(ctx: UploadContext, lessonId: string): Promise<Transfer> {
  const body = join(ctx.workDir, 'response.json');
  const res = await curl([
    '-H',
    `Authorization: Bearer ${ctx.bureauToken}`,
    '-F',
    'path=video/lesson.mp4',
    '-F',
    `file=@${ctx.file.path};type=video/mp4`,
    '-o',
    body,
    `${ctx.server.baseUrl}/api/v1/lessons/${lessonId}/files`,
  ]);
  const text = await readFile(body, 'utf8');
  if (res.status !== 201 || (JSON.parse(text) as { sha256?: string }).sha256 !== ctx.file.sha256) {
    throw new Error(`multipart upload answered ${res.status}: ${text.slice(0, 500)}`);
  }
  await checkDraft(ctx, lessonId);
  return { seconds: res.seconds };
}

const header = (raw: string, name: string) =>
  new RegExp(`^${name}:\\s*(.+?)\\s*$`, 'im').exec(raw)?.[1];

export async function uploadTus(ctx: UploadContext, lessonId: string): Promise<Transfer> {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const headers = join(ctx.workDir, 'headers.txt');
  const body = join(ctx.workDir, 'response.json');
  const auth = `Authorization: Bearer ${ctx.bureauToken}`;
  const metadata = [
    `lessonId ${b64(lessonId)}`,
    `path ${b64('video/lesson.mp4')}`,
    `filename ${b64('lesson.mp4')}`,
    `sha256 ${b64(ctx.file.sha256)}`,
  ].join(',');
  const created = await curl([
    '-X',
    'POST',
    '-H',
    auth,
    '-H',
    'Tus-Resumable: 1.0.0',
    '-H',
    `Upload-Length: ${ctx.file.bytes}`,
    '-H',
    `Upload-Metadata: ${metadata}`,
    '-D',
    headers,
    '-o',
    body,
    `${ctx.server.baseUrl}/api/v1/uploads`,
  ]);
  const location = header(await readFile(headers, 'utf8'), 'Location');
  if (created.status !== 201 || !location) {
    throw new Error(`tus creation answered ${created.status}: ${await readFile(body, 'utf8')}`);
  }
  const patched = await curl([
    '-X',
    'PATCH',
    '-T',
    ctx.file.path,
    '-H',
    auth,
    '-H',
    'Tus-Resumable: 1.0.0',
    '-H',
    'Upload-Offset: 0',
    '-H',
    'Content-Type: application/offset+octet-stream',
    '-D',
    headers,
    '-o',
    body,
    new URL(location, ctx.server.baseUrl).toString(),
  ]);
  const raw = await readFile(headers, 'utf8');
  if (
    patched.status !== 204 ||
    header(raw, 'Upload-Offset') !== String(ctx.file.bytes) ||
    header(raw, 'Upload-Sha256') !== ctx.file.sha256
  ) {
    throw new Error(`tus PATCH answered ${patched.status}: ${raw} ${await readFile(body, 'utf8')}`);
  }
  await checkDraft(ctx, lessonId);
  return {
    seconds: created.seconds + patched.seconds,
    parts: { createSeconds: created.seconds, patchSeconds: patched.seconds },
  };
}
