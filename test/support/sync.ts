import { randomBytes } from 'node:crypto';
import {
  parseEnvelope,
  parseManifestPayload,
  type SyncManifestPayload,
  type SignedEnvelope,
} from '../../src/protocol/sync';
import { Actor, createLesson, school } from './factories';
import { TestApp } from './test-app';

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** A PDF of about `size` bytes with random (incompressible) content: no rendition, stored as is. */
export function pdfBytes(size: number): Buffer {
  const head = Buffer.from('%PDF-1.4\n%');
  const tail = Buffer.from('\ntrailer <<>>\n%%EOF\n');
  return Buffer.concat([head, randomBytes(Math.max(0, size - head.length - tail.length)), tail]);
}

export async function createSchool(
  t: TestApp,
  actor: Actor,
  code: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await t
    .http()
    .post('/api/v1/schools')
    .set(bearer(actor.token))
    .send(school(code, actor.regionId as string, extra))
    .expect(201);
  return res.body.id as string;
}

/** A published lesson with the given files (path -> bytes). */
export async function lessonWithFiles(
  t: TestApp,
  actor: Actor,
  files: Record<string, Buffer>,
): Promise<string> {
  const lesson = await createLesson(t, actor, { subject: 'english', grades: [3] });
  for (const [path, bytes] of Object.entries(files)) {
    await t
      .http()
      .post(`/api/v1/lessons/${lesson.id}/files`)
      .set(bearer(actor.token))
      .field('path', path)
      .attach('file', bytes, path.split('/').pop() as string)
      .expect((r) => {
        if (r.status !== 201 && r.status !== 200) throw new Error(JSON.stringify(r.body));
      });
  }
  await t.http().post(`/api/v1/lessons/${lesson.id}/publish`).set(bearer(actor.token)).expect(200);
  return lesson.id;
}

export async function assign(t: TestApp, actor: Actor, lessonId: string, schoolIds: string[]) {
  await t
    .http()
    .post('/api/v1/assignments')
    .set(bearer(actor.token))
    .send({ lessonId, schoolIds, priority: 2 })
    .expect(201);
}

export interface EnrolledTerminal {
  terminalId: string;
  token: string;
  schoolId: string;
  signingKeys: { keyId: string; publicKey: string }[];
}

export async function enroll(
  t: TestApp,
  actor: Actor,
  schoolId: string,
  name = 'classroom-1',
): Promise<EnrolledTerminal> {
  const code = await t
    .http()
    .post(`/api/v1/schools/${schoolId}/enrollment-codes`)
    .set(bearer(actor.token))
    .expect(201);
  const res = await t
    .http()
    .post('/api/v1/sync/enroll')
    .send({ code: code.body.code as string, name, agentVersion: '1.0.0' })
    .expect(201);
  return res.body as EnrolledTerminal;
}

export async function fetchManifest(
  t: TestApp,
  token: string,
): Promise<{ envelope: SignedEnvelope; payload: SyncManifestPayload; etag: string }> {
  const res = await t.http().get('/api/v1/sync/manifest').set(bearer(token)).expect(200);
  const envelope = parseEnvelope(res.body);
  return {
    envelope,
    payload: parseManifestPayload(envelope.payload),
    etag: res.headers.etag,
  };
}

/** Polls the manifest until `ready` accepts it (jobs recompute it in the background). */
export async function waitForManifest(
  t: TestApp,
  token: string,
  ready: (p: SyncManifestPayload) => boolean,
  timeoutMs = 120_000,
): Promise<{ envelope: SignedEnvelope; payload: SyncManifestPayload; etag: string }> {
  const deadline = Date.now() + timeoutMs;
  let last: SyncManifestPayload | null = null;
  while (Date.now() < deadline) {
    const m = await fetchManifest(t, token);
    if (ready(m.payload)) return m;
    last = m.payload;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`manifest never got ready; last: ${JSON.stringify(last)}`);
}

/** A school with one enrolled terminal and a ready bundle carrying a lesson of `bytes` bytes. */
export async function schoolWithBundle(
  t: TestApp,
  actor: Actor,
  code: string,
  bytes: number,
): Promise<{
  schoolId: string;
  terminal: EnrolledTerminal;
  bundle: SyncManifestPayload['bundles'][number];
}> {
  const schoolId = await createSchool(t, actor, code);
  const terminal = await enroll(t, actor, schoolId);
  const lessonId = await lessonWithFiles(t, actor, { 'reader.pdf': pdfBytes(bytes) });
  await assign(t, actor, lessonId, [schoolId]);
  const m = await waitForManifest(t, terminal.token, (p) => p.bundles.length > 0);
  return { schoolId, terminal, bundle: m.payload.bundles[0] };
}
