import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { verifyEnvelope, verifyKeyRotation } from '../src/protocol/sync-signature';
import { ManifestService } from '../src/modules/delivery/manifest.service';
import { SigningService } from '../src/modules/signing/signing.service';
import { Actor, createBureauUser, loginAdmin } from './support/factories';
import {
  EnrolledTerminal,
  assign,
  bearer,
  createSchool,
  enroll,
  fetchManifest,
  lessonWithFiles,
  pdfBytes,
  waitForManifest,
} from './support/sync';
import { TestApp, startTestApp } from './support/test-app';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('terminal sync: signed manifests, ranged downloads, receipts and inventory', () => {
  let t: TestApp;
  let admin: Actor;
  let bureau: Actor;
  let ds: DataSource;
  let schoolA: string;
  let schoolB: string;
  let lessonId: string;
  let notes: Buffer;
  let termA: EnrolledTerminal;
  let termA2: EnrolledTerminal;
  let termB: EnrolledTerminal;
  let bundle: { id: string; sha256: string; size: number; url: string };
  let bundleBytes: Buffer;

  const get = (path: string, token: string, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, { headers: { ...bearer(token), ...headers } });
  const body = async (res: Response) => Buffer.from(await res.arrayBuffer());
  const rows = async (sql: string, params: unknown[] = []) =>
    ds.query<Record<string, unknown>[]>(sql, params);

  beforeAll(async () => {
    t = await startTestApp({
      NEED_DEBOUNCE_SECONDS: '0',
      ZSTD_LEVEL: '3',
      SYNC_MANIFEST_DEBOUNCE_MS: '0',
    });
    ds = t.app.get(DataSource);
    admin = await loginAdmin(t);
    bureau = await createBureauUser(t, admin);
    schoolA = await createSchool(t, bureau, 'SYNC-A');
    schoolB = await createSchool(t, bureau, 'SYNC-B');
    termA = await enroll(t, bureau, schoolA, 'a-1');
    termA2 = await enroll(t, bureau, schoolA, 'a-2');
    termB = await enroll(t, bureau, schoolB, 'b-1');
    notes = pdfBytes(300_000);
    lessonId = await lessonWithFiles(t, bureau, {
      'notes/unit1.pdf': notes,
      'notes/short.pdf': pdfBytes(2000),
    });
    await assign(t, bureau, lessonId, [schoolA]);
    const m = await waitForManifest(t, termA.token, (p) => p.bundles.length > 0);
    bundle = m.payload.bundles[0];
    bundleBytes = await body(await get(bundle.url, termA.token));
  }, 180_000);
  afterAll(() => t.close());

  it('the manifest verifies with the published key, lists files and the bundle, and answers 304', async () => {
    const keys = await t.http().get('/api/v1/sync/keys').set(bearer(termA.token)).expect(200);
    const key = (keys.body.keys as { keyId: string; publicKey: string }[])[0];
    expect(key.keyId).toBe(termA.signingKeys[0].keyId);
    const m = await fetchManifest(t, termA.token);
    expect(m.envelope.keyId).toBe(key.keyId);
    expect(verifyEnvelope(m.envelope, Buffer.from(key.publicKey, 'base64'))).toBe(true);
    const tampered = { ...m.envelope, payload: m.envelope.payload.replace(schoolA, schoolB) };
    expect(verifyEnvelope(tampered, Buffer.from(key.publicKey, 'base64'))).toBe(false);
    const p = m.payload;
    expect(p.schoolId).toBe(schoolA);
    expect(p.version).toBeGreaterThanOrEqual(1);
    expect(Date.parse(p.expires)).toBeGreaterThan(Date.parse(p.issuedAt));
    expect(p.nextPollSeconds).toBeGreaterThan(0);
    expect(p.lessons).toEqual([
      {
        lessonId,
        version: 1,
        files: [
          { path: 'notes/short.pdf', sha256: expect.any(String), size: 2000 },
          { path: 'notes/unit1.pdf', sha256: sha(notes), size: notes.length },
        ],
      },
    ]);
    expect(bundle).toMatchObject({
      url: `/api/v1/sync/bundles/${bundle.id}`,
      sha256: sha(bundleBytes),
      size: bundleBytes.length,
    });
    expect(p.remove).toEqual([]);
    // Strong ETag and 304; a second terminal of the school shares the very same manifest.
    expect(m.etag).toMatch(/^"[0-9a-f]+"$/);
    const again = await get('/api/v1/sync/manifest', termA.token, { 'If-None-Match': m.etag });
    expect(again.status).toBe(304);
    const other = await fetchManifest(t, termA2.token);
    expect(other.envelope).toEqual(m.envelope);
    // Another school's terminal gets its own (empty) manifest.
    const b = await fetchManifest(t, termB.token);
    expect(b.payload.schoolId).toBe(schoolB);
    expect(b.payload.bundles).toEqual([]);
    expect(b.payload.lessons).toEqual([]);
  });

  it('bundle bytes: full, single, suffix, multi ranges, If-Range, 416 and HEAD, never encoded', async () => {
    const url = bundle.url;
    const full = await get(url, termA.token, { 'Accept-Encoding': 'gzip, br' });
    expect(full.status).toBe(200);
    expect(full.headers.get('content-encoding')).toBeNull();
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('cache-control')).toBe('private, immutable, no-transform');
    expect(full.headers.get('etag')).toBe(`"${bundle.sha256}"`);
    expect(sha(await body(full))).toBe(bundle.sha256);

    const single = await get(url, termA.token, { Range: 'bytes=100-1099' });
    expect(single.status).toBe(206);
    expect(single.headers.get('content-range')).toBe(`bytes 100-1099/${bundle.size}`);
    expect((await body(single)).equals(bundleBytes.subarray(100, 1100))).toBe(true);

    const suffix = await get(url, termA.token, { Range: 'bytes=-500' });
    expect(suffix.status).toBe(206);
    expect((await body(suffix)).equals(bundleBytes.subarray(bundle.size - 500))).toBe(true);

    const multi = await get(url, termA.token, { Range: 'bytes=0-9,1000-1019' });
    expect(multi.status).toBe(206);
    const type = multi.headers.get('content-type') as string;
    expect(type).toMatch(/^multipart\/byteranges; boundary=/);
    const boundary = type.split('boundary=')[1];
    const text = await body(multi);
    expect(Number(multi.headers.get('content-length'))).toBe(text.length);
    const parts = text.toString('latin1').split(`--${boundary}`).slice(1, -1);
    expect(parts).toHaveLength(2);
    expect(parts[0]).toContain(`Content-Range: bytes 0-9/${bundle.size}`);
    expect(Buffer.from(parts[0].split('\r\n\r\n')[1].replace(/\r\n$/, ''), 'latin1')).toEqual(
      bundleBytes.subarray(0, 10),
    );
    expect(parts[1]).toContain(`Content-Range: bytes 1000-1019/${bundle.size}`);

    const ifRange = await get(url, termA.token, {
      Range: 'bytes=10-19',
      'If-Range': `"${bundle.sha256}"`,
    });
    expect(ifRange.status).toBe(206);
    expect((await body(ifRange)).equals(bundleBytes.subarray(10, 20))).toBe(true);
    const stale = await get(url, termA.token, { Range: 'bytes=10-19', 'If-Range': '"0000"' });
    expect(stale.status).toBe(200);
    expect((await body(stale)).length).toBe(bundle.size);

    const past = await get(url, termA.token, { Range: `bytes=${bundle.size}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${bundle.size}`);
    expect((JSON.parse((await body(past)).toString()) as { code: string }).code).toBe(
      'range_not_satisfiable',
    );

    const head = await fetch(`${t.url}${url}`, { method: 'HEAD', headers: bearer(termA.token) });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bundle.size));
    const headRange = await fetch(`${t.url}${url}`, {
      method: 'HEAD',
      headers: { ...bearer(termA.token), Range: 'bytes=-10' },
    });
    expect(headRange.status).toBe(206);
    expect(headRange.headers.get('content-length')).toBe('10');
  });

  it("anything not the terminal's own school answers 404; a revoked or missing token 401", async () => {
    expect((await get(bundle.url, termB.token)).status).toBe(404);
    expect((await get(`/api/v1/sync/files/${sha(notes)}`, termB.token)).status).toBe(404);
    expect((await get('/api/v1/sync/bundles/not-a-uuid', termA.token)).status).toBe(404);
    expect((await get(`/api/v1/sync/files/${'0'.repeat(64)}`, termA.token)).status).toBe(404);
    expect((await get('/api/v1/sync/files/xyz', termA.token)).status).toBe(404);
    const foreignReceipt = await t
      .http()
      .post('/api/v1/sync/receipts')
      .set(bearer(termB.token))
      .send({ bundleId: bundle.id, state: 'installed', bytesReceived: 1, via: 'http' });
    expect(foreignReceipt.status).toBe(404);
    expect((await fetch(`${t.url}${bundle.url}`)).status).toBe(401);
    expect((await get(bundle.url, admin.token)).status).toBe(401);
    expect((await get('/api/v1/sync/manifest', 'cct_forged')).status).toBe(401);

    const spare = await enroll(t, bureau, schoolB, 'to-revoke');
    expect((await get('/api/v1/sync/manifest', spare.token)).status).toBe(200);
    await t
      .http()
      .delete(`/api/v1/terminals/${spare.terminalId}`)
      .set(bearer(bureau.token))
      .expect(204);
    const revoked = await get('/api/v1/sync/manifest', spare.token);
    expect(revoked.status).toBe(401);
    expect(((await revoked.json()) as { code: string }).code).toBe('unauthorized');
  });

  it('files by sha256: what the manifest lists, with the same range semantics', async () => {
    const path = `/api/v1/sync/files/${sha(notes)}`;
    const whole = await get(path, termA.token);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('etag')).toBe(`"${sha(notes)}"`);
    expect((await body(whole)).equals(notes)).toBe(true);
    const tail = await get(path, termA.token, { Range: 'bytes=-1000' });
    expect(tail.status).toBe(206);
    expect((await body(tail)).equals(notes.subarray(notes.length - 1000))).toBe(true);
  });

  it('rejects bad receipts and inventories with 422 and stores nothing', async () => {
    const before = await rows(`SELECT count(*)::int AS n FROM delivery WHERE state <> 'offered'`);
    const bad: Record<string, unknown>[] = [
      {},
      { bundleId: 'nope', state: 'installed', bytesReceived: 1, via: 'http' },
      { bundleId: bundle.id, state: 'done', bytesReceived: 1, via: 'http' },
      { bundleId: bundle.id, state: 'installed', bytesReceived: -1, via: 'http' },
      { bundleId: bundle.id, state: 'installed', bytesReceived: 1.5, via: 'http' },
      { bundleId: bundle.id, state: 'installed', bytesReceived: 1, via: 'pigeon' },
      {
        bundleId: bundle.id,
        state: 'failed',
        bytesReceived: 1,
        via: 'http',
        error: 'x'.repeat(5000),
      },
      { bundleId: bundle.id, state: 'installed', bytesReceived: 1, via: 'http', extra: 1 },
      {
        bundleId: bundle.id,
        state: 'installed',
        bytesReceived: 1,
        via: 'broadcast',
        loss: { symbolsExpected: -1, symbolsReceived: 0, objectsRepaired: 0 },
      },
    ];
    for (const b of bad) {
      const res = await t.http().post('/api/v1/sync/receipts').set(bearer(termA.token)).send(b);
      expect([res.status, res.body.code]).toEqual([422, 'validation_failed']);
    }
    const badInventories: Record<string, unknown>[] = [
      {},
      { lessons: 'all', freeBytes: 1, agentVersion: '1' },
      { lessons: [{ lessonId: 'x', version: 1 }], freeBytes: 1, agentVersion: '1' },
      { lessons: [{ lessonId, version: 0 }], freeBytes: 1, agentVersion: '1' },
      { lessons: [], freeBytes: -5, agentVersion: '1' },
      { lessons: [], freeBytes: 5, agentVersion: '' },
      { lessons: [], freeBytes: 5, agentVersion: 'v'.repeat(65) },
    ];
    for (const b of badInventories) {
      const res = await t.http().post('/api/v1/sync/inventory').set(bearer(termA.token)).send(b);
      expect([res.status, res.body.code]).toEqual([422, 'validation_failed']);
    }
    const malformed = await t
      .http()
      .post('/api/v1/sync/receipts')
      .set(bearer(termA.token))
      .set('Content-Type', 'application/json')
      .send('{"bundleId":');
    expect(malformed.status).toBe(400);
    expect(await rows(`SELECT count(*)::int AS n FROM delivery WHERE state <> 'offered'`)).toEqual(
      before,
    );
    expect(await rows(`SELECT * FROM terminal_lesson`)).toEqual([]);
    expect(await rows(`SELECT * FROM holding`)).toEqual([]);
  });

  it('downloads are counted per school and month, and the plan spends them against the cap', async () => {
    const [traffic] = await rows(
      `SELECT bytes::bigint AS bytes FROM school_traffic WHERE school_id = $1`,
      [schoolA],
    );
    expect(Number(traffic.bytes)).toBeGreaterThanOrEqual(2 * bundle.size);
    const [delivery] = await rows(
      `SELECT state, bytes FROM delivery WHERE bundle_id = $1 AND terminal_id = $2`,
      [bundle.id, termA.terminalId],
    );
    expect(delivery.state).toBe('downloading');
    expect(Number(delivery.bytes)).toBeGreaterThanOrEqual(bundle.size);
    const list = await t
      .http()
      .get(`/api/v1/assignments?schoolId=${schoolA}`)
      .set(bearer(bureau.token))
      .expect(200);
    expect(list.body.items[0].state).toBe('delivering');

    // A 1 MB monthly cap already spent: the plan can only deliver next month.
    await t
      .http()
      .patch(`/api/v1/schools/${schoolA}`)
      .set(bearer(bureau.token))
      .send({
        link: { downlinkKbps: 2000, windows: [], timezone: 'Asia/Shanghai', monthlyCapMb: 1 },
      })
      .expect(200);
    await ds.query(`UPDATE school_traffic SET bytes = 0 WHERE school_id = $1`, [schoolA]);
    const under = await t
      .http()
      .get(`/api/v1/schools/${schoolA}/plan`)
      .set(bearer(bureau.token))
      .expect(200);
    await ds.query(`UPDATE school_traffic SET bytes = 2000000 WHERE school_id = $1`, [schoolA]);
    const over = await t
      .http()
      .get(`/api/v1/schools/${schoolA}/plan`)
      .set(bearer(bureau.token))
      .expect(200);
    const arrival = (p: { body: { items: { estimatedArrival: string }[] } }) =>
      Date.parse(p.body.items[0].estimatedArrival);
    expect(arrival(over)).toBeGreaterThan(arrival(under) + 24 * 3600_000);
    await t
      .http()
      .patch(`/api/v1/schools/${schoolA}`)
      .set(bearer(bureau.token))
      .send({ link: { downlinkKbps: 2000, windows: [], timezone: 'Asia/Shanghai' } })
      .expect(200);
  });

  it('receipts and inventory update holdings and states; the version grows only on change; a wiped terminal gets its lessons back', async () => {
    const before = (await fetchManifest(t, termA.token)).payload.version;
    // One terminal installed: the school holds the lesson only once both have it.
    await t
      .http()
      .post('/api/v1/sync/receipts')
      .set(bearer(termA.token))
      .send({ bundleId: bundle.id, state: 'installed', bytesReceived: bundle.size, via: 'http' })
      .expect(200);
    expect(await rows(`SELECT * FROM holding WHERE school_id = $1`, [schoolA])).toEqual([]);
    await t
      .http()
      .post('/api/v1/sync/receipts')
      .set(bearer(termA2.token))
      .send({ bundleId: bundle.id, state: 'installed', bytesReceived: bundle.size, via: 'usb' })
      .expect(200);
    const held = await rows(`SELECT lesson_id, version, bytes FROM holding WHERE school_id = $1`, [
      schoolA,
    ]);
    expect(held).toEqual([{ lesson_id: lessonId, version: 1, bytes: String(notes.length + 2000) }]);
    const states = await t
      .http()
      .get(`/api/v1/assignments?schoolId=${schoolA}`)
      .set(bearer(bureau.token))
      .expect(200);
    expect(states.body.items[0].state).toBe('installed');
    const holdings = await t
      .http()
      .get(`/api/v1/schools/${schoolA}/holdings`)
      .set(bearer(bureau.token))
      .expect(200);
    expect(holdings.body.items).toEqual([expect.objectContaining({ lessonId, version: 1 })]);
    const [delivery] = await rows(
      `SELECT state, via FROM delivery WHERE bundle_id = $1 AND terminal_id = $2`,
      [bundle.id, termA2.terminalId],
    );
    expect(delivery).toEqual({ state: 'installed', via: 'usb' });

    // Held now, so no bundle is needed: the lesson stays, the bundle goes, the version grows.
    const settled = await waitForManifest(t, termA.token, (p) => p.bundles.length === 0);
    expect(settled.payload.version).toBeGreaterThan(before);
    expect(settled.payload.lessons.map((l) => l.lessonId)).toEqual([lessonId]);

    // The same inventory changes nothing: same version, same ETag.
    for (const term of [termA, termA2]) {
      await t
        .http()
        .post('/api/v1/sync/inventory')
        .set(bearer(term.token))
        .send({ lessons: [{ lessonId, version: 1 }], freeBytes: 123456789, agentVersion: '1.2.3' })
        .expect(200);
    }
    await t.app.get(ManifestService).compute(schoolA);
    const same = await fetchManifest(t, termA.token);
    expect(same.payload.version).toBe(settled.payload.version);
    expect(same.etag).toBe(settled.etag);
    const [terminal] = await rows(
      `SELECT free_bytes, agent_version, last_seen_at FROM terminal WHERE id = $1`,
      [termA.terminalId],
    );
    expect(terminal).toMatchObject({ free_bytes: '123456789', agent_version: '1.2.3' });

    // Terminal A2 was wiped: the school lacks the lesson again, and a bundle brings it back.
    await t
      .http()
      .post('/api/v1/sync/inventory')
      .set(bearer(termA2.token))
      .send({ lessons: [], freeBytes: 999, agentVersion: '1.2.3' })
      .expect(200);
    expect(await rows(`SELECT * FROM holding WHERE school_id = $1`, [schoolA])).toEqual([]);
    const back = await waitForManifest(t, termA2.token, (p) => p.bundles.length > 0);
    expect(back.payload.version).toBeGreaterThan(same.payload.version);
    expect(back.payload.lessons.map((l) => l.lessonId)).toEqual([lessonId]);

    // Unassigned: every terminal is told to remove it.
    const [assignment] = await rows(`SELECT id FROM assignment WHERE school_id = $1`, [schoolA]);
    await t
      .http()
      .delete(`/api/v1/assignments/${assignment.id as string}`)
      .set(bearer(bureau.token))
      .expect(204);
    const removed = await waitForManifest(t, termA.token, (p) => p.lessons.length === 0);
    expect(removed.payload.remove).toEqual([{ lessonId }]);
  }, 180_000);

  it('follows key rotation: the new key is signed by the old, and manifests are re-signed', async () => {
    const signing = t.app.get(SigningService);
    const old = await signing.current();
    const before = await fetchManifest(t, termB.token);
    await signing.rotate();
    const keys = await t.http().get('/api/v1/sync/keys').set(bearer(termB.token)).expect(200);
    const [next] = keys.body.keys as {
      keyId: string;
      publicKey: string;
      signedBy: string;
      signature: string;
    }[];
    expect(next.signedBy).toBe(old.keyId);
    expect(verifyKeyRotation(next, { keyId: old.keyId, publicKey: old.publicKey })).toBe(true);
    await t.app.get(ManifestService).compute(schoolB);
    const after = await fetchManifest(t, termB.token);
    expect(after.envelope.keyId).toBe(next.keyId);
    expect(after.payload.version).toBe(before.payload.version + 1);
    expect(after.payload.keysVersion).toBe(before.payload.keysVersion + 1);
    expect(verifyEnvelope(after.envelope, Buffer.from(next.publicKey, 'base64'))).toBe(true);
  });
});
