import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RunningNginx, startNginx } from '../bench/support/nginx';
import { createBureauUser, loginAdmin } from './support/factories';
import { schoolWithBundle } from './support/sync';
import { TestApp, startTestApp } from './support/test-app';

const run = promisify(execFile);
const BUNDLE_BYTES = 6 * 1024 * 1024;

async function fileSha(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Real download clients nobody here wrote: `curl -C -` resumes a cut bundle download and
 * `aria2c -x4` fetches it over four connections; both end with the manifest's sha256. Once
 * against the embedded byte server, once through nginx with SYNC_BYTES=x-accel.
 */
describe.each([
  ['embedded', {}],
  ['x-accel behind nginx', { SYNC_BYTES: 'x-accel' }],
])('real clients fetch a bundle (%s)', (mode, overrides: Record<string, string>) => {
  let t: TestApp;
  let nginx: RunningNginx | null = null;
  let work: string;
  let base: string;
  let token: string;
  let bundle: { id: string; url: string; sha256: string; size: number };

  beforeAll(async () => {
    t = await startTestApp({
      NEED_DEBOUNCE_SECONDS: '0',
      ZSTD_LEVEL: '1',
      SYNC_MANIFEST_DEBOUNCE_MS: '0',
      ...overrides,
    });
    work = await mkdtemp(join(tmpdir(), 'classcast-clients-'));
    const admin = await loginAdmin(t);
    const bureau = await createBureauUser(t, admin);
    const prepared = await schoolWithBundle(t, bureau, `CLI-${mode.length}`, BUNDLE_BYTES);
    token = prepared.terminal.token;
    bundle = prepared.bundle;
    base = t.url;
    if (overrides.SYNC_BYTES === 'x-accel') {
      nginx = await startNginx({
        dir: join(work, 'nginx'),
        blobsDir: join(t.env.dataDir, 'blobs'),
        upstream: t.url,
      });
      base = nginx.url;
    }
  }, 240_000);
  afterAll(async () => {
    await nginx?.stop();
    await t.close();
    await rm(work, { recursive: true, force: true });
  });

  it('curl -C - resumes a cut download and ends with the manifest sha256', async () => {
    const out = join(work, `curl-${mode.length}.tar`);
    // The first third "arrived" before the link dropped.
    const first = await run('curl', [
      '-sS',
      '-f',
      '-H',
      `Authorization: Bearer ${token}`,
      '-r',
      `0-${Math.floor(bundle.size / 3) - 1}`,
      '-o',
      out,
      `${base}${bundle.url}`,
    ]);
    expect(first.stderr).toBe('');
    expect((await stat(out)).size).toBe(Math.floor(bundle.size / 3));
    const resumed = await run('curl', [
      '-sS',
      '-f',
      '-C',
      '-',
      '-H',
      `Authorization: Bearer ${token}`,
      '-o',
      out,
      '-w',
      '%{http_code} %{size_download}',
      `${base}${bundle.url}`,
    ]);
    const [status, downloaded] = resumed.stdout.trim().split(' ');
    expect(status).toBe('206');
    expect(Number(downloaded)).toBe(bundle.size - Math.floor(bundle.size / 3));
    expect(await fileSha(out)).toBe(bundle.sha256);
  });

  it('aria2c -x4 fetches it over several connections, checked against the sha256', async () => {
    const name = `aria-${mode.length}.tar`;
    const res = await run('aria2c', [
      '-q',
      '-x4',
      '-s4',
      '-k1M',
      '--min-split-size=1M',
      '--allow-overwrite=true',
      '--auto-file-renaming=false',
      `--header=Authorization: Bearer ${token}`,
      `--checksum=sha-256=${bundle.sha256}`,
      '-d',
      work,
      '-o',
      name,
      `${base}${bundle.url}`,
    ]);
    expect(res.stderr).toBe('');
    expect(await fileSha(join(work, name))).toBe(bundle.sha256);
  });

  it('If-Range with a stale validator gets the whole bundle; a matching one the range', async () => {
    const headers = { Authorization: `Bearer ${token}` };
    const ok = await fetch(`${base}${bundle.url}`, {
      headers: { ...headers, Range: 'bytes=5-9', 'If-Range': `"${bundle.sha256}"` },
    });
    expect(ok.status).toBe(206);
    expect(ok.headers.get('etag')).toBe(`"${bundle.sha256}"`);
    expect(Buffer.from(await ok.arrayBuffer())).toHaveLength(5);
    const stale = await fetch(`${base}${bundle.url}`, {
      headers: { ...headers, Range: 'bytes=5-9', 'If-Range': '"other"' },
    });
    expect(stale.status).toBe(200);
    expect(stale.headers.get('content-length')).toBe(String(bundle.size));
    await stale.body?.cancel();
    const past = await fetch(`${base}${bundle.url}`, {
      headers: { ...headers, Range: `bytes=${bundle.size}-` },
    });
    expect(past.status).toBe(416);
    const other = await fetch(
      `${base}/api/v1/sync/bundles/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`,
      { headers },
    );
    expect(other.status).toBe(404);
  });
});
