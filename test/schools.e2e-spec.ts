import iconv from 'iconv-lite';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import {
  Actor,
  createBureau,
  createRegion,
  createViewer,
  login,
  loginAdmin,
  school,
  waitForJob,
} from './support/factories';
import { TestApp, startTestApp } from './support/test-app';

const HEADER =
  'code,name,regionCode,pupils,grades,downlinkKbps,timezone,storageCapacityMb,languages,teacherGaps,windows,monthlyCapMb,broadcastReceiver,maxVideoHeight';

describe('schools: CRUD, CSV import, terminals and enrollment', () => {
  let t: TestApp;
  let admin: Actor;
  let bureau: Actor;
  let province: { id: string; code: string };
  let county: { id: string; code: string };
  let elsewhere: { id: string; code: string };
  const as = (a: Actor) => ({ Authorization: `Bearer ${a.token}` });

  beforeAll(async () => {
    t = await startTestApp({ NEED_DEBOUNCE_SECONDS: '0' });
    admin = await loginAdmin(t);
    province = await createRegion(t, admin, { level: 'province' });
    county = await createRegion(t, admin, { level: 'county', parentId: province.id });
    elsewhere = await createRegion(t, admin, { level: 'province' });
    const b = await createBureau(t, admin, province.id);
    await t
      .http()
      .post('/api/v1/users')
      .set(as(admin))
      .send({
        email: 'gs@classcast.test',
        password: 'bureau-password-1',
        role: 'bureau',
        bureauId: b.id,
      })
      .expect(201);
    bureau = await login(t, 'gs@classcast.test', 'bureau-password-1');
  });
  afterAll(() => t.close());

  const importCsv = (a: Actor, body: string | Buffer, contentType = 'text/csv', query = '') =>
    t
      .http()
      .post(`/api/v1/schools/import${query}`)
      .set(as(a))
      .set('Content-Type', contentType)
      .send(body);

  describe('schools', () => {
    it('creates a school with its link, storage and device profile, names kept exactly', async () => {
      const res = await t
        .http()
        .post('/api/v1/schools')
        .set(as(bureau))
        .send(
          school('S-001', county.id, {
            name: '=HYPERLINK("http://x")<script>',
            languages: ['zh-cn', 'ug'],
          }),
        )
        .expect(201);
      expect(res.body).toMatchObject({
        code: 'S-001',
        name: '=HYPERLINK("http://x")<script>',
        languages: ['zh-CN', 'ug'],
        teacherGaps: [{ subject: 'english', grades: [3, 4] }],
        link: {
          downlinkKbps: 2000,
          windows: [{ start: '22:00', end: '06:00' }],
          timezone: 'Asia/Shanghai',
          monthlyCapMb: null,
          broadcastReceiver: false,
        },
        device: {
          maxVideoHeight: 480,
          videoCodecs: ['h264'],
          imageFormats: ['webp', 'jpeg', 'png'],
        },
      });
      const dup = await t
        .http()
        .post('/api/v1/schools')
        .set(as(bureau))
        .send(school('S-001', county.id))
        .expect(409);
      expect(dup.body.code).toBe('conflict');
    });

    it.each([
      [
        'a fixed-offset time zone',
        { link: { downlinkKbps: 1, timezone: '+08:00' } },
        'link.timezone',
      ],
      [
        'a window hour of 25',
        {
          link: {
            downlinkKbps: 1,
            timezone: 'Asia/Shanghai',
            windows: [{ start: '25:00', end: '06:00' }],
          },
        },
        'link.windows.0.start',
      ],
      [
        'an unknown gap subject',
        { teacherGaps: [{ subject: 'astrology', grades: [1] }] },
        'teacherGaps.0.subject',
      ],
      ['grade 0', { grades: [0] }, 'grades'],
      ['negative pupils', { pupils: -1 }, 'pupils'],
      ['negative storage', { storageCapacityMb: -5 }, 'storageCapacityMb'],
      ['an unknown language', { languages: ['not a tag'] }, 'languages'],
      ['an odd video height', { device: { maxVideoHeight: 1080 } }, 'device.maxVideoHeight'],
    ])('rejects %s with 422 naming the field', async (_what, patch, field) => {
      const res = await t
        .http()
        .post('/api/v1/schools')
        .set(as(bureau))
        .send(school(`BAD-${Date.now()}`, county.id, patch))
        .expect(422);
      expect(res.body.code).toBe('validation_failed');
      expect((res.body.details as { field: string }[]).map((d) => d.field).join(' ')).toContain(
        field,
      );
    });

    it('keeps bureaus and viewers inside their regions', async () => {
      await t
        .http()
        .post('/api/v1/schools')
        .set(as(bureau))
        .send(school('OUT-1', elsewhere.id))
        .expect(422);
      const foreign = await t
        .http()
        .post('/api/v1/schools')
        .set(as(admin))
        .send(school('OUT-2', elsewhere.id))
        .expect(201);
      await t
        .http()
        .get(`/api/v1/schools/${foreign.body.id as string}`)
        .set(as(bureau))
        .expect(404);
      await t
        .http()
        .patch(`/api/v1/schools/${foreign.body.id as string}`)
        .set(as(bureau))
        .send({ pupils: 1 })
        .expect(404);
      const viewer = await createViewer(t, admin, province.id);
      await t
        .http()
        .post('/api/v1/schools')
        .set(as(viewer))
        .send(school('V-1', county.id))
        .expect(403);
      const list = await t.http().get('/api/v1/schools').set(as(viewer)).expect(200);
      expect(list.body.items.map((s: { code: string }) => s.code)).not.toContain('OUT-2');
    });

    it('searches by code and name, exact code first, and filters by gap', async () => {
      await t
        .http()
        .post('/api/v1/schools')
        .set(as(bureau))
        .send(school('LZ-10', county.id, { name: '兰州市第十小学' }))
        .expect(201);
      await t
        .http()
        .post('/api/v1/schools')
        .set(as(bureau))
        .send(
          school('LZ-1', county.id, {
            name: '兰州市第一小学',
            teacherGaps: [{ subject: 'music', grades: [2] }],
          }),
        )
        .expect(201);
      const byCode = await t.http().get('/api/v1/schools?q=lz-1').set(as(bureau)).expect(200);
      expect(byCode.body.items[0].code).toBe('LZ-1');
      expect(byCode.body.items.map((s: { code: string }) => s.code)).toEqual(['LZ-1', 'LZ-10']);
      const byName = await t
        .http()
        .get(`/api/v1/schools?q=${encodeURIComponent('第十')}`)
        .set(as(bureau))
        .expect(200);
      expect(byName.body.items.map((s: { code: string }) => s.code)).toEqual(['LZ-10']);
      const music = await t
        .http()
        .get('/api/v1/schools?gapSubject=music&grade=2')
        .set(as(bureau))
        .expect(200);
      expect(music.body.items.map((s: { code: string }) => s.code)).toEqual(['LZ-1']);
    });

    it('updates and deletes a school; a profile change is recorded as a need change', async () => {
      const created = await t
        .http()
        .post('/api/v1/schools')
        .set(as(bureau))
        .send(school('UPD-1', county.id))
        .expect(201);
      const id = created.body.id as string;
      const res = await t
        .http()
        .patch(`/api/v1/schools/${id}`)
        .set(as(bureau))
        .send({ storageCapacityMb: 1000, device: { maxVideoHeight: 240 } })
        .expect(200);
      expect(res.body).toMatchObject({ storageCapacityMb: 1000, device: { maxVideoHeight: 240 } });
      // The code is the external key: not editable. Values are validated as on create.
      for (const bad of [{ code: 'UPD-2' }, { pupils: -1 }, { link: { downlinkKbps: 'fast' } }])
        await t.http().patch(`/api/v1/schools/${id}`).set(as(bureau)).send(bad).expect(422);
      const ds = t.app.get(DataSource);
      const events = await ds.query(
        `SELECT kind FROM school_event WHERE school_id = $1 ORDER BY id`,
        [id],
      );
      expect(events.map((e: { kind: string }) => e.kind)).toEqual([
        'school.created',
        'school.changed',
      ]);
      for (let i = 0; i < 50; i++) {
        const [row] = await ds.query(`SELECT need_version::int AS v FROM school WHERE id = $1`, [
          id,
        ]);
        if (row.v > 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const [after] = await ds.query(`SELECT need_version::int AS v FROM school WHERE id = $1`, [
        id,
      ]);
      expect(after.v).toBeGreaterThan(1);
      await t.http().delete(`/api/v1/schools/${id}`).set(as(bureau)).expect(204);
      await t.http().get(`/api/v1/schools/${id}`).set(as(bureau)).expect(404);
    });
  });

  describe('CSV import', () => {
    it('lands valid rows, rejects bad ones with line numbers, first duplicate wins, and re-imports idempotently', async () => {
      const csv = [
        HEADER,
        `IMP-1,一小,${county.code},100,1;2;3;4;5;6,1024,Asia/Shanghai,32000,zh-CN;ug,english:3-6;music:1,22:00-06:00;12:00-13:00,500,true,360`,
        `IMP-2,"=cmd|' /C calc'!A0",${county.code},50,1,512,Asia/Urumqi,16000,,,,,,`,
        `IMP-3,bad tz,${county.code},50,1,512,+08:00,16000,,,,,,`,
        `IMP-1,again,${county.code},1,1,1,Asia/Shanghai,1,,,,,,`,
        `IMP-4,unknown region,NOPE,1,1,1,Asia/Shanghai,1,,,,,,`,
        `IMP-5,"multi`,
        `line name",${county.code},10,2,256,Asia/Shanghai,8000,,art:2,,,,`,
        `IMP-6,foreign,${elsewhere.code},1,1,1,Asia/Shanghai,1,,,,,,`,
      ].join('\n');
      const res = await importCsv(bureau, csv).expect(202);
      const job = await waitForJob(t, bureau, res.body.jobId as string);
      expect(job.state).toBe('completed');
      expect(job.result).toMatchObject({ rows: 7, inserted: 3, updated: 0 });
      const rejected = job.result.rejected as {
        line: number;
        code?: string;
        reason: string;
        field?: string;
      }[];
      expect(rejected).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            line: 4,
            code: 'IMP-3',
            reason: 'invalid_value',
            field: 'timezone',
          }),
          expect.objectContaining({ line: 5, code: 'IMP-1', reason: 'duplicate_code' }),
          expect.objectContaining({ line: 6, code: 'IMP-4', reason: 'unknown_region' }),
          expect.objectContaining({ line: 9, code: 'IMP-6', reason: 'unknown_region' }),
        ]),
      );
      expect(rejected).toHaveLength(4);
      const list = await t.http().get('/api/v1/schools?q=IMP-').set(as(bureau)).expect(200);
      const byCode = Object.fromEntries(
        (list.body.items as { code: string; name: string }[]).map((s) => [s.code, s]),
      );
      expect(Object.keys(byCode).sort()).toEqual(['IMP-1', 'IMP-2', 'IMP-5']);
      expect(byCode['IMP-1']).toMatchObject({
        name: '一小',
        languages: ['zh-CN', 'ug'],
        teacherGaps: [
          { subject: 'english', grades: [3, 4, 5, 6] },
          { subject: 'music', grades: [1] },
        ],
        link: {
          windows: [
            { start: '22:00', end: '06:00' },
            { start: '12:00', end: '13:00' },
          ],
          monthlyCapMb: 500,
          broadcastReceiver: true,
        },
        device: { maxVideoHeight: 360 },
      });
      expect(byCode['IMP-2']).toMatchObject({
        name: "=cmd|' /C calc'!A0",
        languages: ['zh-CN'],
        link: { windows: [], monthlyCapMb: null },
      });
      expect(byCode['IMP-5'].name).toBe('multi\nline name');

      const again = await waitForJob(
        t,
        bureau,
        (await importCsv(bureau, csv).expect(202)).body.jobId as string,
      );
      expect(again.result).toMatchObject({ inserted: 0, updated: 3 });
      const total = await t.http().get('/api/v1/schools?q=IMP-').set(as(bureau)).expect(200);
      expect(total.body.total).toBe(3);
    });

    it('imports the sample file shipped in samples/schools.csv without a rejection', async () => {
      for (const code of ['GS-LX-DX', 'XJ-KS-SF']) {
        await t
          .http()
          .post('/api/v1/regions')
          .set(as(admin))
          .send({ code, name: code, level: 'county', parentId: province.id })
          .expect(201);
      }
      const sample = readFileSync(join(__dirname, '..', 'samples', 'schools.csv'));
      const job = await waitForJob(
        t,
        bureau,
        (await importCsv(bureau, sample).expect(202)).body.jobId as string,
      );
      expect(job.result).toMatchObject({ rows: 5, inserted: 5, updated: 0, rejected: [] });
    });

    it('takes UTF-8 with a BOM and GB18030, keeping Chinese names exactly', async () => {
      const name = '甘肃省临夏州东乡族自治县龙泉镇中心小学（教学点）';
      const rows = `${HEADER}\nGB-1,${name},${county.code},30,1;2,256,Asia/Shanghai,8000,,,,,,\n`;
      const gb = iconv.encode(rows, 'gb18030');
      const job1 = await waitForJob(
        t,
        bureau,
        (await importCsv(bureau, gb, 'text/csv; charset=gb18030').expect(202)).body.jobId as string,
      );
      expect(job1.result).toMatchObject({ inserted: 1, rejected: [] });
      const bom = Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(rows.replace('GB-1', 'BOM-1')),
      ]);
      const job2 = await waitForJob(
        t,
        bureau,
        (await importCsv(bureau, bom).expect(202)).body.jobId as string,
      );
      expect(job2.result).toMatchObject({ inserted: 1, rejected: [] });
      const gbByQuery = iconv.encode(rows.replace('GB-1', 'GB-2'), 'gb18030');
      await waitForJob(
        t,
        bureau,
        (await importCsv(bureau, gbByQuery, 'text/csv', '?charset=gb18030').expect(202)).body
          .jobId as string,
      );
      const list = await t
        .http()
        .get(`/api/v1/schools?q=${encodeURIComponent('自治县龙泉镇')}`)
        .set(as(bureau))
        .expect(200);
      expect(list.body.items.map((s: { code: string; name: string }) => [s.code, s.name])).toEqual([
        ['BOM-1', name],
        ['GB-1', name],
        ['GB-2', name],
      ]);
    });

    it('rejects the whole file for a bad header (wrong delimiter, missing or unknown column): nothing lands', async () => {
      const before = (await t.http().get('/api/v1/schools').set(as(admin)).expect(200)).body
        .total as number;
      const semicolons = `${HEADER.replace(/,/g, ';')}\nX-1;x;${county.code};1;1;1;Asia/Shanghai;1;;;;;;`;
      const a = await importCsv(bureau, semicolons).expect(422);
      expect(a.body.code).toBe('csv_header_invalid');
      expect(a.body.message).toMatch(/comma/);
      const missing = await importCsv(bureau, `code,name\nX-2,x`).expect(422);
      expect(missing.body.code).toBe('csv_header_invalid');
      expect(JSON.stringify(missing.body.details)).toContain('regionCode');
      const unknown = await importCsv(
        bureau,
        `${HEADER},colour\nX-3,x,${county.code},1,1,1,Asia/Shanghai,1,,,,,,,red`,
      ).expect(422);
      expect(JSON.stringify(unknown.body.details)).toContain('colour');
      const after = (await t.http().get('/api/v1/schools').set(as(admin)).expect(200)).body
        .total as number;
      expect(after).toBe(before);
    });

    it('answers 10 MB of garbage with a clear 4xx, quickly', async () => {
      const garbage = Buffer.alloc(10 * 1024 * 1024);
      let x = 7;
      for (let i = 0; i < garbage.length; i++) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        garbage[i] = x >> 16;
      }
      const started = Date.now();
      const res = await importCsv(bureau, garbage);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(['csv_header_invalid', 'csv_unreadable']).toContain(res.body.code);
      expect(Date.now() - started).toBeLessThan(30_000);
    });

    it('needs text/csv or multipart, and a bureau or admin', async () => {
      await importCsv(bureau, '{}', 'application/json').expect(415);
      const viewer = await createViewer(t, admin, province.id);
      await importCsv(viewer, `${HEADER}\n`).expect(403);
      const multipart = await t
        .http()
        .post('/api/v1/schools/import')
        .set(as(bureau))
        .attach(
          'file',
          Buffer.from(`${HEADER}\nMP-1,mp,${county.code},1,1,1,Asia/Shanghai,1,,,,,,\n`),
          'schools.csv',
        )
        .expect(202);
      expect((await waitForJob(t, bureau, multipart.body.jobId as string)).result).toMatchObject({
        inserted: 1,
      });
    });
  });

  describe('terminals', () => {
    let schoolId: string;
    beforeAll(async () => {
      schoolId = (
        await t
          .http()
          .post('/api/v1/schools')
          .set(as(bureau))
          .send(school('TERM-1', county.id))
          .expect(201)
      ).body.id;
    });

    const newCode = async () =>
      (
        await t
          .http()
          .post(`/api/v1/schools/${schoolId}/enrollment-codes`)
          .set(as(bureau))
          .expect(201)
      ).body as {
        code: string;
        expiresAt: string;
      };

    it('enrolls with a one-time code read out loosely, and the token works until revoked', async () => {
      const { code, expiresAt } = await newCode();
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
      const hours = (Date.parse(expiresAt) - Date.now()) / 3600_000;
      expect(hours).toBeGreaterThan(71.9);
      expect(hours).toBeLessThanOrEqual(72);
      const spoken = ` ${code.toLowerCase().replace('-', ' ')} `;
      const res = await t
        .http()
        .post('/api/v1/sync/enroll')
        .send({ code: spoken, name: 'classroom-1', agentVersion: '1.0.0' })
        .expect(201);
      expect(res.body).toMatchObject({
        schoolId,
        terminalId: expect.any(String),
        token: expect.any(String),
      });
      expect(res.body.signingKeys[0]).toMatchObject({
        algorithm: 'ed25519',
        keyId: expect.stringMatching(/^[0-9a-f]{16}$/),
      });
      expect(Buffer.from(res.body.signingKeys[0].publicKey as string, 'base64')).toHaveLength(32);
      const token = res.body.token as string;
      const keys = await t
        .http()
        .get('/api/v1/sync/keys')
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect(keys.body.keys[0].minisign).toMatch(
        /^untrusted comment: minisign public key [0-9A-F]{16}\n/,
      );
      const reused = await t
        .http()
        .post('/api/v1/sync/enroll')
        .send({ code, name: 'classroom-2', agentVersion: '1.0.0' })
        .expect(403);
      expect(reused.body.code).toBe('enrollment_refused');
      const terminals = await t
        .http()
        .get(`/api/v1/schools/${schoolId}/terminals`)
        .set(as(bureau))
        .expect(200);
      expect(terminals.body.items[0]).toMatchObject({
        name: 'classroom-1',
        agentVersion: '1.0.0',
        revokedAt: null,
      });
      expect(terminals.body.items[0].lastSeenAt).not.toBeNull();
      await t
        .http()
        .delete(`/api/v1/terminals/${res.body.terminalId as string}`)
        .set(as(bureau))
        .expect(204);
      await t.http().get('/api/v1/sync/keys').set('Authorization', `Bearer ${token}`).expect(401);
      await t.http().get('/api/v1/sync/keys').set(as(bureau)).expect(401);
    });

    it('lets several terminals of one school enroll', async () => {
      for (const name of ['a', 'b']) {
        const { code } = await newCode();
        await t
          .http()
          .post('/api/v1/sync/enroll')
          .send({ code, name, agentVersion: '1.0.0' })
          .expect(201);
      }
      const terminals = await t
        .http()
        .get(`/api/v1/schools/${schoolId}/terminals`)
        .set(as(bureau))
        .expect(200);
      expect(
        terminals.body.items.filter((x: { revokedAt: string | null }) => !x.revokedAt),
      ).toHaveLength(2);
    });

    it('stops the tokens of a deleted school at once, though they were just used', async () => {
      const id = (
        await t
          .http()
          .post('/api/v1/schools')
          .set(as(bureau))
          .send(school('TERM-GONE', county.id))
          .expect(201)
      ).body.id as string;
      const { code } = (
        await t.http().post(`/api/v1/schools/${id}/enrollment-codes`).set(as(bureau)).expect(201)
      ).body as { code: string };
      const { token } = (
        await t
          .http()
          .post('/api/v1/sync/enroll')
          .send({ code, name: 'gone', agentVersion: '1.0.0' })
          .expect(201)
      ).body as { token: string };
      const bearer = { Authorization: `Bearer ${token}` };
      await t.http().get('/api/v1/sync/keys').set(bearer).expect(200);
      await t.http().get('/api/v1/sync/keys').set(bearer).expect(200);
      await t.http().delete(`/api/v1/schools/${id}`).set(as(bureau)).expect(204);
      const res = await t.http().get('/api/v1/sync/keys').set(bearer).expect(401);
      expect(res.body.code).toBe('unauthorized');
    });

    it('refuses an expired code', async () => {
      const { code } = await newCode();
      await t.app
        .get(DataSource)
        .query(
          `UPDATE enrollment_code SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`,
        );
      const res = await t
        .http()
        .post('/api/v1/sync/enroll')
        .send({ code, name: 'late', agentVersion: '1.0.0' })
        .expect(403);
      expect(res.body.code).toBe('enrollment_refused');
    });

    it('slows guessing down: ten failures from one address, then 429 even for a good code', async () => {
      const { code } = await newCode();
      // The expired-code and reuse tests above already failed twice from this address.
      for (let i = 0; i < 8; i++) {
        const res = await t
          .http()
          .post('/api/v1/sync/enroll')
          .send({ code: i % 2 ? 'ZZZZ-ZZZZ' : 'not-a-code', name: 'x', agentVersion: '1' });
        expect([403, 422]).toContain(res.status);
      }
      const limited = await t
        .http()
        .post('/api/v1/sync/enroll')
        .send({ code, name: 'x', agentVersion: '1' })
        .expect(429);
      expect(limited.body.code).toBe('rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('keeps codes and terminals of other regions out of reach', async () => {
      const foreign = await t
        .http()
        .post('/api/v1/schools')
        .set(as(admin))
        .send(school('TERM-X', elsewhere.id))
        .expect(201);
      await t
        .http()
        .post(`/api/v1/schools/${foreign.body.id as string}/enrollment-codes`)
        .set(as(bureau))
        .expect(404);
      await t
        .http()
        .get(`/api/v1/schools/${foreign.body.id as string}/terminals`)
        .set(as(bureau))
        .expect(404);
    });
  });
});
