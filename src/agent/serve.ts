import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { Library, type InstalledLesson } from './library';
import type { AgentLogger } from './log';
import { RELEASE_MARKER } from './update';

/**
 * The offline classroom library: a small web site on the school LAN listing the installed
 * lessons by subject and grade, with video, audio, PDF, image and HTML5 viewing. No external
 * assets (no CDN, no fonts, no scripts from elsewhere), every name HTML-escaped, and only files
 * the index lists are served, so no path can leave the library.
 */
const TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.ogg': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.wav': 'audio/wav',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.vtt': 'text/vtt; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};
const SUBJECTS: Record<string, string> = {
  chinese: 'Chinese 语文',
  math: 'Mathematics 数学',
  english: 'English 英语',
  music: 'Music 音乐',
  art: 'Art 美术',
  pe: 'Physical education 体育',
  science: 'Science 科学',
  ethics: 'Ethics 道德与法治',
  it: 'IT 信息技术',
  labour: 'Labour 劳动',
  calligraphy: 'Calligraphy 书法',
  other: 'Other 其他',
};
const PAGE_CSP =
  "default-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; media-src 'self'; frame-src 'self'; object-src 'self'";
/** HTML5 packages run their own scripts, but only from the library itself. */
const CONTENT_CSP =
  "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; connect-src 'self'";

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

export function typeOf(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

export function startLibraryServer(
  library: Library,
  port: number,
  host: string,
  log: AgentLogger,
): Promise<Server> {
  const server = createServer((req, res) => {
    handle(library, req, res).catch((err: unknown) => {
      log.error({ err: (err as Error).message, url: req.url }, 'library request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'Internal error');
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function handle(library: Library, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed');
  const url = new URL(req.url ?? '/', 'http://library.local');
  const index = await library.index();
  const lessons = Object.values(index.lessons).filter(
    (l) => !l.files.some((f) => f.path === RELEASE_MARKER),
  );
  if (url.pathname === '/')
    return send(res, 200, 'text/html; charset=utf-8', homePage(lessons), PAGE_CSP);
  const m = /^\/lessons\/([0-9a-fA-F-]{36})\/(?:(files)\/(.+))?$/.exec(url.pathname);
  const lesson = m ? lessons.find((l) => l.lessonId === m[1]) : undefined;
  if (!m || !lesson)
    return send(
      res,
      404,
      'text/html; charset=utf-8',
      page('Not found', '<p>No such lesson in this library. <a href="/">All lessons</a></p>'),
      PAGE_CSP,
    );
  if (!m[2]) return send(res, 200, 'text/html; charset=utf-8', lessonPage(lesson), PAGE_CSP);
  let path: string;
  try {
    path = decodeURIComponent(m[3]);
  } catch {
    return send(res, 400, 'text/plain; charset=utf-8', 'Bad path');
  }
  const file = lesson.files.find((f) => f.path === path);
  if (!file) return send(res, 404, 'text/plain; charset=utf-8', 'No such file in this lesson');
  await sendFile(req, res, join(library.lessonDir(lesson), file.path), typeOf(file.path));
}

function send(res: ServerResponse, status: number, type: string, body: string, csp?: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    ...(csp ? { 'content-security-policy': csp } : {}),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Streams a file with single-range support, so videos seek. */
async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  full: string,
  type: string,
): Promise<void> {
  const { size } = await stat(full);
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  if (range && size > 0 && (range[1] !== '' || range[2] !== '')) {
    if (range[1] === '') {
      start = Math.max(0, size - Number(range[2]));
    } else {
      start = Number(range[1]);
      end = range[2] === '' ? size - 1 : Math.min(size - 1, Number(range[2]));
    }
    if (start > end || start >= size) {
      res.writeHead(416, { 'content-range': `bytes */${size}` });
      return void res.end();
    }
    status = 206;
  }
  res.writeHead(status, {
    'content-type': type,
    'content-length': size === 0 ? 0 : end - start + 1,
    'accept-ranges': 'bytes',
    'x-content-type-options': 'nosniff',
    'content-security-policy': CONTENT_CSP,
    ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  if (req.method === 'HEAD' || size === 0) return void res.end();
  const stream = createReadStream(full, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function title(l: InstalledLesson): string {
  return l.meta.title ?? `Lesson ${l.lessonId.slice(0, 8)}`;
}

function subjectName(code: string | undefined): string {
  if (!code) return 'Unsorted 未分类';
  return SUBJECTS[code] ?? code;
}

function homePage(lessons: InstalledLesson[]): string {
  const bySubject = new Map<string, Map<string, InstalledLesson[]>>();
  for (const l of lessons) {
    const subject = subjectName(l.meta.subject);
    const grades = l.meta.grades?.length ? l.meta.grades : [0];
    for (const g of grades) {
      const grade = g === 0 ? 'All grades' : `Grade ${g} · ${g}年级`;
      const s = bySubject.get(subject) ?? new Map<string, InstalledLesson[]>();
      s.set(grade, [...(s.get(grade) ?? []), l]);
      bySubject.set(subject, s);
    }
  }
  const sections = [...bySubject.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([subject, grades]) => {
      const blocks = [...grades.entries()]
        .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
        .map(([grade, ls]) => {
          const items = ls
            .sort((a, b) => title(a).localeCompare(title(b)))
            .map((l) => `<li><a href="/lessons/${l.lessonId}/">${escapeHtml(title(l))}</a></li>`)
            .join('');
          return `<h3>${escapeHtml(grade)}</h3><ul>${items}</ul>`;
        })
        .join('');
      return `<section><h2>${escapeHtml(subject)}</h2>${blocks}</section>`;
    })
    .join('');
  const body = lessons.length === 0 ? '<p>No lessons installed yet.</p>' : sections;
  return page('Classroom library 课堂资源', body);
}

function viewer(l: InstalledLesson, path: string): string {
  const src = `/lessons/${l.lessonId}/files/${encodePath(path)}`;
  const name = escapeHtml(path);
  const type = typeOf(path);
  const link = `<a href="${src}">${name}</a>`;
  if (type.startsWith('video/'))
    return `<figure><video controls preload="metadata" src="${src}"></video><figcaption>${link}</figcaption></figure>`;
  if (type.startsWith('audio/'))
    return `<figure><audio controls preload="metadata" src="${src}"></audio><figcaption>${link}</figcaption></figure>`;
  if (type.startsWith('image/'))
    return `<figure><img alt="${name}" src="${src}"><figcaption>${link}</figcaption></figure>`;
  if (type === 'application/pdf')
    return `<figure><iframe title="${name}" src="${src}"></iframe><figcaption>${link}</figcaption></figure>`;
  if (type.startsWith('text/html'))
    return `<p>Interactive: <a href="${src}" target="_blank">${name}</a></p>`;
  return `<p>${link}</p>`;
}

function lessonPage(l: InstalledLesson): string {
  const main = l.files.filter((f) => !/\.(css|js|json|vtt|woff2?)$/i.test(f.path));
  const meta = [
    subjectName(l.meta.subject),
    l.meta.grades?.length ? `Grades ${l.meta.grades.join(', ')}` : '',
    `version ${l.version}`,
  ]
    .filter(Boolean)
    .map(escapeHtml)
    .join(' · ');
  const body = `<p><a href="/">All lessons 全部课程</a></p><p>${meta}</p>${main.map((f) => viewer(l, f.path)).join('')}`;
  return page(title(l), body);
}

function page(heading: string, body: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(heading)}</title><style>
body{font-family:system-ui,sans-serif;margin:1rem auto;max-width:60rem;padding:0 1rem;line-height:1.5}
video,img,iframe{max-width:100%;width:100%}iframe{height:80vh;border:1px solid #ccc}figure{margin:1rem 0}
h2{border-bottom:2px solid #888}a{color:#0645ad}
</style></head><body><h1>${escapeHtml(heading)}</h1>${body}</body></html>`;
}
