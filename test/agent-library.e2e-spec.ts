import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { libraryProblems, noise, readIndex, runAgent, spawnAgent } from './support/agent-cli';
import { PDF, PNG } from './support/factories';
import { SyncFixture, sha256 } from './support/sync-fixture';

describe('agent: offline library, verify and repair, USB import, releases, bandwidth cap', () => {
  let f: SyncFixture;
  let dir: string;

  beforeEach(async () => {
    f = await SyncFixture.start();
    dir = await mkdtemp(join(tmpdir(), 'classcast-agentl-'));
    expect(
      (await runAgent(['enroll', '--server', f.url, '--code', f.code, '--dir', dir])).code,
    ).toBe(0);
  });
  afterEach(async () => {
    await f.close();
    await rm(dir, { recursive: true, force: true });
  });

  const sync = (...extra: string[]) =>
    runAgent(['sync', '--dir', dir, '--retry-base-ms', '50', ...extra]);

  it('serve: lessons by subject and grade, video/PDF/image/HTML5 viewers, names escaped, no external assets, only indexed files', async () => {
    const lessonId = randomUUID();
    const video = noise(300_000, 5);
    await f.publish([
      {
        lessonId,
        version: 1,
        title: '<script>alert("x")</script> 节奏 & rhythm',
        subject: 'music',
        grades: [3, 4],
        files: [
          { path: 'video/lecture.mp4', data: video, mediaType: 'video/mp4' },
          { path: 'notes.pdf', data: PDF, mediaType: 'application/pdf' },
          { path: 'img/<b>.png', data: PNG, mediaType: 'image/png' },
          {
            path: 'game/index.html',
            data: Buffer.from('<!doctype html><p>play</p>'),
            mediaType: 'text/html',
          },
        ],
      },
    ]);
    expect((await sync()).code).toBe(0);
    const child = spawnAgent(['serve', '--dir', dir, '--port', '0', '--host', '127.0.0.1']);
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', () => reject(new Error('serve exited')));
      });
      const home = await fetch(`${base}/`);
      const html = await home.text();
      expect(home.status).toBe(200);
      expect(home.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(html).toContain('Music');
      expect(html).toContain('Grade 3');
      expect(html).toContain('Grade 4');
      expect(html).not.toContain('<script>');
      expect(html).toContain('&#60;script&#62;');
      expect(html).not.toMatch(/(src|href)="https?:/);
      const page = await (await fetch(`${base}/lessons/${lessonId}/`)).text();
      expect(page).toContain('<video controls');
      expect(page).toContain('<iframe');
      expect(page).toContain('<img alt="img/&#60;b&#62;.png"');
      expect(page).toContain('game/index.html');
      expect(page).not.toMatch(/(src|href)="https?:/);

      const ranged = await fetch(`${base}/lessons/${lessonId}/files/video/lecture.mp4`, {
        headers: { range: 'bytes=1000-1999' },
      });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get('content-type')).toBe('video/mp4');
      expect(Buffer.from(await ranged.arrayBuffer())).toEqual(video.subarray(1000, 2000));
      const img = await fetch(
        `${base}/lessons/${lessonId}/files/img/${encodeURIComponent('<b>.png')}`,
      );
      expect(Buffer.from(await img.arrayBuffer())).toEqual(PNG);

      for (const path of [
        `/lessons/${lessonId}/files/..%2F..%2F..%2Ftoken`,
        `/lessons/${lessonId}/files/%2e%2e/%2e%2e/index.json`,
        `/lessons/${randomUUID()}/`,
        '/token',
      ]) {
        expect((await fetch(`${base}${path}`)).status).toBe(404);
      }
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('verify: finds a rotten file and repairs it from the server', async () => {
    const lessonId = randomUUID();
    const data = noise(500_000, 9);
    await f.publish([
      {
        lessonId,
        version: 1,
        files: [
          { path: 'a.mp4', data },
          { path: 'b.txt', data: Buffer.from('ok') },
        ],
      },
    ]);
    expect((await sync()).code).toBe(0);
    expect((await runAgent(['verify', '--dir', dir])).stdout).toContain('every file matches');
    const index = await readIndex(dir);
    const file = join(dir, 'library', 'lessons', lessonId, index.lessons[lessonId].dir, 'a.mp4');
    const rotten = Buffer.from(data);
    rotten[12345] ^= 0x01;
    await writeFile(file, rotten);
    expect(await libraryProblems(dir)).toHaveLength(1);
    const run = await runAgent(['verify', '--dir', dir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('1 damaged, 1 repaired');
    expect(sha256(await readFile(file))).toBe(sha256(data));
    expect(f.requests.some((r) => r.url === `/api/v1/sync/files/${sha256(data)}`)).toBe(true);
  });

  it('import-usb: a bundle listed in the saved signed manifest installs offline; an unlisted or altered one is refused', async () => {
    const lessonId = randomUUID();
    await f.publish([
      { lessonId, version: 1, files: [{ path: 'a.mp4', data: noise(200_000, 4) }] },
    ]);
    // A receive window that is closed now: the manifest is verified and saved, nothing downloaded.
    const now = new Date();
    const hh = (h: number) => String((now.getHours() + h) % 24).padStart(2, '0');
    const closed = await sync('--window', `${hh(2)}:00-${hh(3)}:00`);
    expect(closed.code).toBe(10);
    expect(closed.stderr).toContain('outside the receive window');
    expect(f.requests.some((r) => r.url.includes('/bundles/'))).toBe(false);

    const usb = await mkdtemp(join(tmpdir(), 'classcast-usb-'));
    try {
      const tar = join(usb, 'bundle.tar');
      await copyFile(f.bundles[0].path, tar);
      await copyFile(`${f.bundles[0].path}.minisig`, `${tar}.minisig`);
      const altered = join(usb, 'altered.tar');
      const bytes = await readFile(tar);
      bytes[bytes.length - 2000] ^= 0xff;
      await writeFile(altered, bytes);
      const refused = await runAgent(['import-usb', altered, '--dir', dir]);
      expect(refused.code).toBe(5);
      expect(refused.stderr).toContain('not in the signed manifest');
      expect((await readIndex(dir)).lessons).toEqual({});

      const ok = await runAgent(['import-usb', tar, '--dir', dir]);
      expect(ok.code).toBe(0);
      expect(Object.keys((await readIndex(dir)).lessons)).toEqual([lessonId]);
      expect(await libraryProblems(dir)).toEqual([]);
      expect(f.receipts).toContainEqual(
        expect.objectContaining({ bundleId: f.bundles[0].id, via: 'usb', state: 'installed' }),
      );
    } finally {
      await rm(usb, { recursive: true, force: true });
    }
  });

  it('agent releases travel as signed lessons; the launcher runs the newest that passes its self-test and falls back otherwise', async () => {
    const release = (version: string, healthy: boolean) => ({
      lessonId: randomUUID(),
      version: 1,
      files: [
        {
          path: 'classcast-agent-release.json',
          data: Buffer.from(JSON.stringify({ version, entry: 'main.js' })),
        },
        {
          path: 'main.js',
          data: Buffer.from(
            `if (process.argv[2] === 'selftest') process.exit(${healthy ? 0 : 1});\n` +
              `process.stdout.write('release ${version} ran: ' + process.argv.slice(2).join(' ') + '\\n');\n`,
          ),
        },
      ],
    });
    await f.publish([release('9.0.0', true), release('9.1.0', false)]);
    const run = await sync();
    expect(run.code).toBe(0);
    expect((await readdir(join(dir, 'agent'))).sort()).toEqual(
      expect.arrayContaining(['9.0.0', '9.1.0']),
    );

    const next = await runAgent(['verify', '--dir', dir]);
    expect(next.code).toBe(0);
    expect(next.stdout).toContain(`release 9.0.0 ran: verify --dir ${dir}`);
    expect(next.stderr).toContain('failed its self-test');
    const bad = JSON.parse(await readFile(join(dir, 'agent', 'bad.json'), 'utf8'));
    expect(bad.bad).toEqual(['9.1.0']);
    // Both releases are installed (and verified) like lessons; serve leaves them out of the listing.
    const { lessons } = await readIndex(dir);
    expect(Object.keys(lessons)).toHaveLength(2);
  });

  it('--max-kbps caps the download rate', async () => {
    await f.publish([
      { lessonId: randomUUID(), version: 1, files: [{ path: 'a.mp4', data: noise(1_000_000, 2) }] },
    ]);
    const run = await sync('--max-kbps', '4000');
    expect(run.code).toBe(0);
    // 1 MB at 500 kB/s: about 2 s (a small burst allowance aside).
    expect(run.ms).toBeGreaterThan(1700);
  });
});
