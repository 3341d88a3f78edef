import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import {
  Actor,
  PDF,
  PNG,
  createBureauUser,
  createLesson,
  createRegion,
  createViewer,
  loginAdmin,
  mp4Bytes,
} from './support/factories';
import { countRows } from './support/db';
import { TestApp, startTestApp } from './support/test-app';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function blobFiles(t: TestApp): Promise<number> {
  const root = join(t.env.dataDir, 'blobs');
  let n = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else n += 1;
    }
  };
  await walk(root);
  return n;
}

/** A zip holding one entry, written by hand so the test controls every header field. */
function zipOf(name: string, content: Buffer, declaredSize = content.length): Buffer {
  const data = deflateRawSync(content);
  const nameBuf = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(declaredSize, 22);
  local.writeUInt16LE(nameBuf.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(declaredSize, 24);
  central.writeUInt16LE(nameBuf.length, 28);
  const localPart = Buffer.concat([local, nameBuf, data]);
  const centralPart = Buffer.concat([central, nameBuf]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(centralPart.length, 12);
  end.writeUInt32LE(localPart.length, 16);
  return Buffer.concat([localPart, centralPart, end]);
}

describe('catalog: lessons, versions, files, search, courses', () => {
  let t: TestApp;
  let admin: Actor;
  let bureau: Actor;
  let otherBureau: Actor;
  let viewer: Actor;
  const as = (a: Actor) => ({ Authorization: `Bearer ${a.token}` });

  beforeAll(async () => {
    t = await startTestApp();
    admin = await loginAdmin(t);
    bureau = await createBureauUser(t, admin);
    otherBureau = await createBureauUser(t, admin);
    const region = await createRegion(t, admin);
    viewer = await createViewer(t, admin, region.id);
  });
  afterAll(() => t.close());

  const upload = (
    a: Actor,
    lessonId: string,
    content: Buffer,
    filename: string,
    opts: { path?: string; type?: string } = {},
  ) => {
    const req = t.http().post(`/api/v1/lessons/${lessonId}/files`).set(as(a));
    if (opts.path !== undefined) req.field('path', opts.path);
    return req.attach('file', content, {
      filename,
      contentType: opts.type ?? 'application/octet-stream',
    });
  };

  describe('lessons', () => {
    it('creates a lesson with curriculum metadata and draftVersion 1', async () => {
      const res = await t
        .http()
        .post('/api/v1/lessons')
        .set(as(bureau))
        .send({
          title: '三年级音乐：节奏与歌唱',
          description: 'Singing in rounds',
          subject: 'music',
          grades: [4, 3],
          language: 'zh-cn',
          curriculumCode: 'MUS-3-2',
          textbookEdition: '人音版 2024',
          durationMinutes: 40,
          tags: ['节奏', 'rhythm'],
          teacherlessReady: true,
        })
        .expect(201);
      expect(res.body).toMatchObject({
        title: '三年级音乐：节奏与歌唱',
        subject: 'music',
        grades: [3, 4],
        language: 'zh-CN',
        status: 'draft',
        draftVersion: 1,
        publishedVersion: null,
        bureauId: bureau.bureauId,
        teacherlessReady: true,
      });
      await t
        .http()
        .get(`/api/v1/lessons/${res.body.id as string}`)
        .set(as(bureau))
        .expect(200);
    });

    it.each([
      ['an unknown field', { colour: 'red' }, 'colour'],
      ['a wrong type', { grades: '3' }, 'grades'],
      ['a grade out of range', { grades: [13] }, 'grades'],
      ['an unknown subject', { subject: 'astrology' }, 'subject'],
      ['a malformed custom subject', { subject: 'x-' }, 'subject'],
      ['an invalid language', { language: 'not a language' }, 'language'],
      ['an over-long title', { title: 'x'.repeat(301) }, 'title'],
      ['an empty title', { title: '' }, 'title'],
    ])('rejects %s with 422 and stores nothing', async (_what, patch, field) => {
      const before = await countRows(t, 'lesson');
      const res = await t
        .http()
        .post('/api/v1/lessons')
        .set(as(bureau))
        .send({ title: 'Art 1', subject: 'art', grades: [1], language: 'zh-CN', ...patch })
        .expect(422);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
      expect(await countRows(t, 'lesson')).toBe(before);
    });

    it('accepts a bureau-defined subject x-<code>', async () => {
      await createLesson(t, bureau, { subject: 'x-tea-culture' });
    });

    it('refuses writes by a viewer with 403 and without a token with 401', async () => {
      await t
        .http()
        .post('/api/v1/lessons')
        .set(as(viewer))
        .send({ title: 'a', subject: 'art', grades: [1], language: 'zh-CN' })
        .expect(403);
      await t
        .http()
        .post('/api/v1/lessons')
        .send({ title: 'a', subject: 'art', grades: [1], language: 'zh-CN' })
        .expect(401);
    });

    it("hides another bureau's draft (404) and refuses changes to its lessons (404)", async () => {
      const lesson = await createLesson(t, bureau);
      await t.http().get(`/api/v1/lessons/${lesson.id}`).set(as(otherBureau)).expect(404);
      await t.http().get(`/api/v1/lessons/${lesson.id}`).set(as(viewer)).expect(404);
      await t
        .http()
        .patch(`/api/v1/lessons/${lesson.id}`)
        .set(as(otherBureau))
        .send({ title: 'mine now' })
        .expect(404);
      await upload(otherBureau, lesson.id, PDF, 'x.pdf').expect(404);
      await t.http().delete(`/api/v1/lessons/${lesson.id}`).set(as(otherBureau)).expect(404);
      await upload(bureau, lesson.id, PDF, 'notes.pdf').expect(201);
      await t.http().post(`/api/v1/lessons/${lesson.id}/publish`).set(as(bureau)).expect(200);
      // Published: everyone reads it, still only its bureau changes it.
      await t.http().get(`/api/v1/lessons/${lesson.id}`).set(as(otherBureau)).expect(200);
      await t.http().get(`/api/v1/lessons/${lesson.id}`).set(as(viewer)).expect(200);
      await t
        .http()
        .patch(`/api/v1/lessons/${lesson.id}`)
        .set(as(otherBureau))
        .send({ title: 'mine now' })
        .expect(404);
      await t
        .http()
        .get(`/api/v1/lessons/${lesson.id}/versions/2/files`)
        .set(as(otherBureau))
        .expect(404);
      await t
        .http()
        .get(`/api/v1/lessons/${lesson.id}/versions/1/files`)
        .set(as(otherBureau))
        .expect(200);
    });

    it('edits metadata with PATCH and validates it', async () => {
      const lesson = await createLesson(t, bureau);
      const res = await t
        .http()
        .patch(`/api/v1/lessons/${lesson.id}`)
        .set(as(bureau))
        .send({ title: 'Renamed', tags: ['a'] })
        .expect(200);
      expect(res.body).toMatchObject({ title: 'Renamed', tags: ['a'] });
      await t
        .http()
        .patch(`/api/v1/lessons/${lesson.id}`)
        .set(as(bureau))
        .send({ grades: [0] })
        .expect(422);
      // The owner is not editable, and a null description clears it.
      await t
        .http()
        .patch(`/api/v1/lessons/${lesson.id}`)
        .set(as(bureau))
        .send({ bureauId: lesson.id })
        .expect(422);
      await t
        .http()
        .patch(`/api/v1/lessons/${lesson.id}`)
        .set(as(bureau))
        .send({ description: 'words' })
        .expect(200);
      const cleared = await t
        .http()
        .patch(`/api/v1/lessons/${lesson.id}`)
        .set(as(bureau))
        .send({ description: null })
        .expect(200);
      expect(cleared.body.description).toBeNull();
    });
  });

  describe('files and versions', () => {
    it('uploads by multipart: 201 for a new path, 200 when replacing, listed with sha256', async () => {
      const lesson = await createLesson(t, bureau);
      const video = mp4Bytes(64 * 1024, 7);
      const first = await upload(bureau, lesson.id, video, 'lecture.mp4', {
        type: 'video/mp4',
      }).expect(201);
      expect(first.body).toEqual({
        path: 'lecture.mp4',
        size: video.length,
        sha256: sha(video),
        mediaType: 'video/mp4',
        renditions: [],
      });
      const again = mp4Bytes(32 * 1024, 8);
      const second = await upload(bureau, lesson.id, again, 'x.mp4', {
        path: './lecture.mp4',
      }).expect(200);
      expect(second.body.sha256).toBe(sha(again));
      await upload(bureau, lesson.id, PNG, '图片.png', {
        path: 'slides/封面.png',
        type: 'image/png',
      }).expect(201);
      const files = await t
        .http()
        .get(`/api/v1/lessons/${lesson.id}/versions/1/files`)
        .set(as(bureau))
        .expect(200);
      expect(files.body).toMatchObject({ page: 1, total: 2 });
      expect(files.body.items).toEqual([
        {
          path: 'lecture.mp4',
          size: again.length,
          sha256: sha(again),
          mediaType: 'video/mp4',
          renditions: [],
        },
        {
          path: 'slides/封面.png',
          size: PNG.length,
          sha256: sha(PNG),
          mediaType: 'image/png',
          renditions: [],
        },
      ]);
    });

    it('stores identical content once', async () => {
      const a = await createLesson(t, bureau);
      const b = await createLesson(t, bureau);
      const content = mp4Bytes(10_000, 99);
      const blobsBefore = await countRows(t, 'blob');
      await upload(bureau, a.id, content, 'same.mp4').expect(201);
      await upload(bureau, b.id, content, 'also-same.mp4').expect(201);
      expect(await countRows(t, 'blob')).toBe(blobsBefore + 1);
    });

    it('publishes immutable versions; the next draft starts with their files', async () => {
      const lesson = await createLesson(t, bureau);
      const empty = await t
        .http()
        .post(`/api/v1/lessons/${lesson.id}/publish`)
        .set(as(bureau))
        .expect(409);
      expect(empty.body.code).toBe('nothing_to_publish');
      await upload(bureau, lesson.id, PDF, 'worksheet.pdf').expect(201);
      const v1 = await t
        .http()
        .post(`/api/v1/lessons/${lesson.id}/publish`)
        .set(as(bureau))
        .expect(200);
      expect(v1.body).toMatchObject({ status: 'published', publishedVersion: 1, draftVersion: 2 });
      // Changes go to draft 2; version 1 never changes.
      await upload(bureau, lesson.id, mp4Bytes(2048, 3), 'extra.mp4').expect(201);
      await t
        .http()
        .delete(`/api/v1/lessons/${lesson.id}/files?path=worksheet.pdf`)
        .set(as(bureau))
        .expect(204);
      const files1 = await t
        .http()
        .get(`/api/v1/lessons/${lesson.id}/versions/1/files`)
        .set(as(bureau))
        .expect(200);
      expect(files1.body.items.map((f: { path: string }) => f.path)).toEqual(['worksheet.pdf']);
      const files2 = await t
        .http()
        .get(`/api/v1/lessons/${lesson.id}/versions/2/files`)
        .set(as(bureau))
        .expect(200);
      expect(files2.body.items.map((f: { path: string }) => f.path)).toEqual(['extra.mp4']);
      const v2 = await t
        .http()
        .post(`/api/v1/lessons/${lesson.id}/publish`)
        .set(as(bureau))
        .expect(200);
      expect(v2.body).toMatchObject({ publishedVersion: 2, draftVersion: 3 });
      const versions = await t
        .http()
        .get(`/api/v1/lessons/${lesson.id}/versions`)
        .set(as(bureau))
        .expect(200);
      expect(
        versions.body.items.map((v: { version: number; state: string }) => [v.version, v.state]),
      ).toEqual([
        [1, 'published'],
        [2, 'published'],
        [3, 'draft'],
      ]);
      const others = await t
        .http()
        .get(`/api/v1/lessons/${lesson.id}/versions`)
        .set(as(otherBureau))
        .expect(200);
      expect(others.body.items.map((v: { version: number }) => v.version)).toEqual([1, 2]);
      await t
        .http()
        .delete(`/api/v1/lessons/${lesson.id}/files?path=nothing.pdf`)
        .set(as(bureau))
        .expect(404);
    });

    it('retires a lesson: history kept, further changes refused with 409', async () => {
      const lesson = await createLesson(t, bureau);
      await upload(bureau, lesson.id, PDF, 'a.pdf').expect(201);
      await t.http().post(`/api/v1/lessons/${lesson.id}/publish`).set(as(bureau)).expect(200);
      await t.http().delete(`/api/v1/lessons/${lesson.id}`).set(as(bureau)).expect(204);
      const got = await t.http().get(`/api/v1/lessons/${lesson.id}`).set(as(bureau)).expect(200);
      expect(got.body.status).toBe('retired');
      const refused = await upload(bureau, lesson.id, PDF, 'b.pdf').expect(409);
      expect(refused.body.code).toBe('lesson_retired');
      await t
        .http()
        .get(`/api/v1/lessons/${lesson.id}/versions/1/files`)
        .set(as(bureau))
        .expect(200);
    });
  });

  describe('bad uploads leave no blob and no file row', () => {
    let lessonId: string;
    beforeAll(async () => {
      lessonId = (await createLesson(t, bureau)).id;
    });

    const expectNothingStored = async (
      blobsBefore: number,
      filesBefore: number,
      onDisk: number,
    ) => {
      expect(await countRows(t, 'blob')).toBe(blobsBefore);
      expect(await countRows(t, 'lesson_file')).toBe(filesBefore);
      expect(await blobFiles(t)).toBe(onDisk);
      expect(await readdir(join(t.env.dataDir, 'tmp'))).toEqual([]);
    };

    it.each([
      ['a PNG named .mp4', PNG, 'movie.mp4', 'video/mp4', undefined, 415, 'media_type_mismatch'],
      [
        'a PDF declared as video/mp4',
        PDF,
        'file',
        'video/mp4',
        undefined,
        415,
        'media_type_mismatch',
      ],
      [
        'a Windows executable',
        Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200)]),
        'setup.exe',
        undefined,
        undefined,
        415,
        'unsupported_media_type',
      ],
      [
        'an HTML page outside a package',
        Buffer.from('<!doctype html><script>alert(1)</script>'),
        'x.html',
        'text/html',
        undefined,
        415,
        'unsupported_media_type',
      ],
      [
        'a path-traversal name',
        PDF,
        'notes.pdf',
        undefined,
        '../../etc/notes.pdf',
        422,
        'invalid_path',
      ],
      ['an absolute path', PDF, 'notes.pdf', undefined, '/etc/notes.pdf', 422, 'invalid_path'],
      ['a path with NUL', PDF, 'notes.pdf', undefined, 'a\u0000.pdf', 422, 'invalid_path'],
    ])('%s -> %i %s', async (_what, content, filename, type, path, status, code) => {
      const [blobs, files, disk] = [
        await countRows(t, 'blob'),
        await countRows(t, 'lesson_file'),
        await blobFiles(t),
      ];
      const res = await upload(bureau, lessonId, content as Buffer, filename, {
        type: type,
        path: path,
      }).expect(status);
      expect(res.body.code).toBe(code);
      await expectNothingStored(blobs, files, disk);
    });

    it('rejects a zip bomb and a zip-slip package with 422 zip_unsafe', async () => {
      const [blobs, files, disk] = [
        await countRows(t, 'blob'),
        await countRows(t, 'lesson_file'),
        await blobFiles(t),
      ];
      const bomb = zipOf('index.html', Buffer.alloc(20 * 1024 * 1024));
      const res = await upload(bureau, lessonId, bomb, 'game.zip', {
        type: 'application/zip',
      }).expect(422);
      expect(res.body.code).toBe('zip_unsafe');
      const slip = zipOf('../../evil.html', Buffer.from('<p>hi</p>'));
      const res2 = await upload(bureau, lessonId, slip, 'game.zip').expect(422);
      expect(res2.body.code).toBe('zip_unsafe');
      await expectNothingStored(blobs, files, disk);
      const ok = zipOf('index.html', Buffer.from('<!doctype html><p>Hello</p>'));
      const accepted = await upload(bureau, lessonId, ok, 'game.zip').expect(201);
      expect(accepted.body.mediaType).toBe('application/zip');
    });

    it('answers a form without a file with 422 and a non-multipart body with 415', async () => {
      const res = await t
        .http()
        .post(`/api/v1/lessons/${lessonId}/files`)
        .set(as(bureau))
        .field('path', 'a.pdf')
        .expect(422);
      expect(res.body.details[0].field).toBe('file');
      await t
        .http()
        .post(`/api/v1/lessons/${lessonId}/files`)
        .set(as(bureau))
        .send({ file: 'x' })
        .expect(415);
    });

    it('drops a truncated multipart upload without a trace', async () => {
      const [blobs, files, disk] = [
        await countRows(t, 'blob'),
        await countRows(t, 'lesson_file'),
        await blobFiles(t),
      ];
      const url = new URL(`${t.url}/api/v1/lessons/${lessonId}/files`);
      const boundary = 'classcastboundary';
      const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.mp4"\r\nContent-Type: video/mp4\r\n\r\n`,
      );
      await new Promise<void>((resolve) => {
        const req = httpRequest(url, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${bureau.token}`,
            'Content-Type': `multipart/form-data; boundary=${boundary}`,
            'Content-Length': String(head.length + 5_000_000),
          },
        });
        req.on('error', () => resolve());
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
        req.write(head);
        req.write(mp4Bytes(1_000_000, 5), () => setTimeout(() => req.destroy(), 100));
      });
      // The server notices the disconnect and removes the staged bytes.
      for (let i = 0; i < 50 && (await readdir(join(t.env.dataDir, 'tmp'))).length > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      await expectNothingStored(blobs, files, disk);
      await t.http().get('/health').expect(200);
    });
  });

  describe('search', () => {
    it('finds lessons by Chinese fragments, English words and filters, respecting visibility', async () => {
      const chinese = await createLesson(t, bureau, {
        title: '小学音乐：认识五线谱与节拍',
        subject: 'music',
        grades: [5],
      });
      const english = await createLesson(t, bureau, {
        title: 'Phonics for beginners',
        subject: 'english',
        grades: [3],
        description: 'letter sounds and rhythm',
        tags: ['phonics'],
      });
      const hidden = await createLesson(t, otherBureau, {
        title: '五线谱的秘密草稿',
        subject: 'music',
        grades: [5],
      });
      for (const l of [chinese, english]) {
        await upload(bureau, l.id, PDF, 'a.pdf').expect(201);
        await t.http().post(`/api/v1/lessons/${l.id}/publish`).set(as(bureau)).expect(200);
      }
      const ids = async (a: Actor, query: string) =>
        (
          (await t.http().get(`/api/v1/lessons?${query}`).set(as(a)).expect(200)).body.items as {
            id: string;
          }[]
        ).map((l) => l.id);

      expect(await ids(viewer, `q=${encodeURIComponent('五线谱')}`)).toEqual([chinese.id]);
      expect(await ids(viewer, `q=${encodeURIComponent('节拍')}`)).toEqual([chinese.id]);
      expect(await ids(otherBureau, `q=${encodeURIComponent('五线谱')}`)).toEqual(
        expect.arrayContaining([chinese.id, hidden.id]),
      );
      expect(await ids(viewer, `q=${encodeURIComponent('谱')}`)).toEqual([chinese.id]);
      expect(await ids(viewer, `q=${encodeURIComponent('节拍 五线谱')}`)).toEqual([chinese.id]);
      expect(await ids(viewer, 'q=ph')).toEqual([english.id]);
      expect(await ids(viewer, 'q=phonics')).toEqual([english.id]);
      expect(await ids(viewer, 'q=PHON')).toEqual([english.id]);
      expect(await ids(viewer, 'q=rhythm%20sounds')).toEqual([english.id]);
      expect(await ids(viewer, 'q=zzzz-nothing')).toEqual([]);
      expect(await ids(viewer, `subject=english&grade=3&q=phonics`)).toEqual([english.id]);
      expect(await ids(viewer, `subject=music&grade=3&q=phonics`)).toEqual([]);
      const paged = await t
        .http()
        .get('/api/v1/lessons?pageSize=1&page=1')
        .set(as(bureau))
        .expect(200);
      expect(paged.body).toMatchObject({ page: 1, pageSize: 1 });
      expect(paged.body.total).toBeGreaterThan(1);
      const beyond = await t
        .http()
        .get('/api/v1/lessons?pageSize=1&page=10000')
        .set(as(bureau))
        .expect(200);
      expect(beyond.body).toMatchObject({ items: [], page: 10000, total: paged.body.total });
      await t.http().get('/api/v1/lessons?pageSize=501').set(as(bureau)).expect(422);
      await t.http().get('/api/v1/lessons?grade=abc').set(as(bureau)).expect(422);
    });
  });

  describe('courses', () => {
    it('creates an ordered course of usable lessons and rejects unknown ones', async () => {
      const a = await createLesson(t, bureau);
      const b = await createLesson(t, bureau);
      const res = await t
        .http()
        .post('/api/v1/courses')
        .set(as(bureau))
        .send({ title: 'Music year 3', subject: 'music', grade: 3, lessonIds: [b.id, a.id] })
        .expect(201);
      expect(res.body.lessonIds).toEqual([b.id, a.id]);
      await t
        .http()
        .get(`/api/v1/courses/${res.body.id as string}`)
        .set(as(viewer))
        .expect(200);
      const list = await t.http().get('/api/v1/courses').set(as(viewer)).expect(200);
      expect(list.body.total).toBeGreaterThanOrEqual(1);
      const bad = await t
        .http()
        .post('/api/v1/courses')
        .set(as(otherBureau))
        .send({ title: 'x', subject: 'music', grade: 3, lessonIds: [a.id] })
        .expect(422);
      expect(bad.body.details[0].field).toBe('lessonIds.0');
    });
  });
});
