import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from './errors';
import { HttpClient } from './http';
import { trustedNow } from './state';
import { chainProblem, trustAnchors } from './tls-trust';
import { AGENT_BUILD_TIME } from './version';

/** A self-signed certificate for 127.0.0.1 made by openssl, as a school's server might have. */
function selfSigned(dir: string): { cert: string; key: string } {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=classcast-test',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return {
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
  };
}

describe('agent TLS: certificates judged against the trusted time', () => {
  let dir: string;
  let pem: { cert: string; key: string };
  let cert: X509Certificate;
  let server: Server;
  let url: string;
  let requests = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'classcast-tls-'));
    pem = selfSigned(dir);
    cert = new X509Certificate(pem.cert);
    server = createServer({ cert: pem.cert, key: pem.key }, (_req, res) => {
      requests += 1;
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const day = 86_400_000;
  const validFrom = () => Date.parse(cert.validFrom);
  const validTo = () => Date.parse(cert.validTo);

  it('accepts the pinned CA at a time inside its validity, refuses outside it, another name or no anchor', () => {
    const anchors = trustAnchors(pem.cert);
    expect(chainProblem([cert], '127.0.0.1', validFrom() + 1000, anchors)).toBeUndefined();
    expect(chainProblem([cert], 'localhost', validFrom() + 1000, anchors)).toBeUndefined();
    expect(chainProblem([cert], '127.0.0.1', validTo() + day, anchors)).toMatch(/expired/);
    expect(chainProblem([cert], '127.0.0.1', validFrom() - day, anchors)).toMatch(
      /not valid before/,
    );
    expect(chainProblem([cert], 'classcast.example.org', validFrom() + 1000, anchors)).toMatch(
      /does not name/,
    );
    expect(chainProblem([cert], '127.0.0.1', validFrom() + 1000, trustAnchors())).toMatch(
      /trusted authority/,
    );
  });

  it('trusted now never goes below the last verified issue time or the build time', () => {
    expect(trustedNow(undefined, () => 0)).toBe(Date.parse(AGENT_BUILD_TIME));
    const later = '2030-01-01T00:00:00Z';
    expect(trustedNow({ lastVersion: 3, lastIssuedAt: later }, () => 0)).toBe(Date.parse(later));
    expect(trustedNow({ lastVersion: 3, lastIssuedAt: later }, () => Date.parse(later) + 5)).toBe(
      Date.parse(later) + 5,
    );
  });

  it('over HTTPS: the enrolled CA works; an unknown CA, or a trusted time past expiry, is refused before any request byte', async () => {
    const ok = new HttpClient({ server: url, caPem: pem.cert, now: () => Date.now() });
    expect((await ok.json<{ ok: boolean }>('/')).body).toEqual({ ok: true });
    ok.close();

    // A terminal clock reading 1970 does not matter: trusted time is the last manifest's issue time.
    const clockless = new HttpClient({
      server: url,
      caPem: pem.cert,
      now: () => trustedNow({ lastVersion: 1, lastIssuedAt: new Date().toISOString() }, () => 0),
    });
    expect((await clockless.json<{ ok: boolean }>('/')).body).toEqual({ ok: true });
    clockless.close();

    const answered = requests;
    const unknown = new HttpClient({ server: url, now: () => Date.now() });
    await expect(unknown.json('/')).rejects.toMatchObject({ code: 'tls_refused' });
    unknown.close();

    // A manifest issued after the certificate expired proves the certificate is stale.
    const stale = new HttpClient({ server: url, caPem: pem.cert, now: () => validTo() + day });
    await expect(stale.json('/')).rejects.toThrow(/expired/);
    stale.close();
    expect(requests).toBe(answered);
  });

  it('plain HTTP only to loopback or with --insecure-http', async () => {
    const remote = new HttpClient({ server: 'http://classcast.invalid', now: () => Date.now() });
    await expect(remote.json('/')).rejects.toEqual(expect.any(AgentError));
    await expect(remote.json('/')).rejects.toMatchObject({ code: 'insecure_refused' });
    remote.close();
    const allowed = new HttpClient({
      server: 'http://classcast.invalid',
      insecureHttp: true,
      now: () => Date.now(),
      idleTimeoutMs: 2000,
    });
    // Allowed: it gets as far as name resolution (which fails for .invalid).
    await expect(allowed.json('/')).rejects.toMatchObject({
      code: expect.stringMatching(/ENOTFOUND|EAI_AGAIN/),
    });
    allowed.close();
  });
});
