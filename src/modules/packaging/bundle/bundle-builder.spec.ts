import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle, type BuildFile, type BuildInput } from './bundle-builder';
import { tempDir, testSigner, tool, toolOk, writeNoiseFile } from './cli-tools.fixture';

/**
 * End to end: a bundle is built from files on disk, then checked only with GNU tar, minisign,
 * zstd and sha256sum, as a school with standard tools would check it.
 */
const L1 = '0b7c1f0e-1111-4a4a-8a8a-000000000001';
const L2 = '0b7c1f0e-2222-4a4a-8a8a-000000000002';

function catalog(n: number, edited = -1): string {
  const rows = Array.from({ length: n }, (_, i) => ({
    id: `lesson-${i}`,
    title:
      i === edited
        ? 'Art for grade 5, second edition'
        : `English lesson ${i}, grade ${(i % 6) + 1}`,
  }));
  return JSON.stringify({ rows }, null, 2);
}

async function localFile(path: string, content?: string | Buffer) {
  if (content !== undefined) await writeFile(path, content);
  const bytes = await readFile(path);
  return {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    localPath: path,
  };
}

function sha256sum(path: string): string {
  return toolOk('sha256sum', [path]).split(' ')[0];
}

describe('buildBundle', () => {
  const signer = testSigner();
  let dir: string;
  let files: BuildFile[];
  /** The distinct files, by role. */
  let the: Record<'lesson' | 'video' | 'data' | 'notes' | 'changed', BuildFile>;
  let input: (overrides?: Partial<BuildInput>) => BuildInput;

  beforeAll(async () => {
    dir = await tempDir('bundle');
    const src = join(dir, 'src');
    await mkdir(src);
    await writeNoiseFile(join(src, 'intro.mp4'), 2 * 1024 * 1024 + 3);
    await writeNoiseFile(join(src, 'data.bin'), 1536 * 1024, 7);
    // Over 1 MiB: chosen by the probe rather than by compressing the whole file.
    const lesson = await localFile(join(src, 'lesson.json'), catalog(20_000));
    const video = await localFile(join(src, 'intro.mp4'));
    const data = await localFile(join(src, 'data.bin'));
    const notes = await localFile(join(src, 'notes.txt'), 'Bring a pencil.\n');
    const base = await localFile(join(src, 'catalog-v1.json'), catalog(6000));
    const changed = await localFile(join(src, 'catalog-v2.json'), catalog(6000, 4321));
    files = [
      {
        ...lesson,
        mediaType: 'application/json',
        targets: [{ lessonId: L1, version: 2, path: 'lesson.json' }],
      },
      // The same video in two lessons, listed twice: one entry, both targets.
      {
        ...video,
        mediaType: 'video/mp4',
        targets: [{ lessonId: L2, version: 1, path: 'media/intro.mp4' }],
      },
      {
        ...video,
        mediaType: 'video/mp4',
        targets: [{ lessonId: L1, version: 2, path: 'intro.mp4' }],
      },
      {
        ...data,
        mediaType: 'application/octet-stream',
        targets: [{ lessonId: L2, version: 1, path: 'data.bin' }],
      },
      {
        ...notes,
        mediaType: 'text/plain',
        targets: [{ lessonId: L1, version: 2, path: 'notes.txt' }],
      },
      {
        ...changed,
        mediaType: 'application/json',
        base,
        targets: [{ lessonId: L2, version: 1, path: 'catalog.json' }],
      },
    ];
    the = { lesson: files[0], video: files[1], data: files[3], notes: files[4], changed: files[5] };
    input = (overrides = {}) => ({
      bundleId: 'bundle-school-42-3f2a',
      audience: { type: 'school', id: 'school-42' },
      lessons: [
        { lessonId: L2, version: 1 },
        { lessonId: L1, version: 2 },
      ],
      files,
      zstdLevel: 9,
      patchMaxBaseBytes: 128 * 1024 * 1024,
      workDir: join(dir, 'work'),
      signer: { keyId: signer.keyId, seed: signer.seed },
      ...overrides,
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds a bundle that GNU tar, minisign, zstd and sha256sum accept', async () => {
    const out = join(dir, 'out');
    await mkdir(out);
    const bundlePath = join(out, 'bundle.tar');
    const progress: number[] = [];
    const built = await buildBundle(input({ onProgress: (f) => progress.push(f) }), bundlePath);

    expect(built.sha256).toBe(sha256sum(bundlePath));
    expect(built.size).toBe((await stat(bundlePath)).size);
    expect(built.bundleBytes).toBe(built.size);
    expect(built.sourceBytes).toBe(Object.values(the).reduce((sum, f) => sum + f.size, 0));
    expect(built.bundleBytes).toBeLessThan(built.sourceBytes);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress[progress.length - 1]).toBe(1);

    const { lesson, video, data, notes, changed } = the;
    expect(built.manifest.entries.map((e) => [e.member, e.encoding, e.base])).toEqual(
      [
        [`files/${lesson.sha256}.zst`, 'zstd', undefined],
        [`files/${video.sha256}`, 'identity', undefined], // video/*: stored as is
        [`files/${data.sha256}`, 'identity', undefined], // the probe finds nothing to save
        [`files/${notes.sha256}`, 'identity', undefined], // too small for zstd to save 5 %
        [
          `patches/${changed.base?.sha256}-${changed.sha256}.zst`,
          'zstd-patch',
          changed.base?.sha256,
        ],
      ].sort((a, b) => ((a[0] ?? '') < (b[0] ?? '') ? -1 : 1)),
    );
    expect(built.manifest.entries.find((e) => e.sha256 === video.sha256)?.targets).toEqual([
      { lessonId: L1, version: 2, path: 'intro.mp4' },
      { lessonId: L2, version: 1, path: 'media/intro.mp4' },
    ]);

    const listing = toolOk('tar', ['-tf', bundlePath]).trim().split('\n');
    const members = built.manifest.entries.map((e) => e.member);
    expect(listing).toEqual(['manifest.json', 'manifest.json.minisig', ...[...members].sort()]);

    const x = join(dir, 'extracted');
    await mkdir(x);
    toolOk('tar', ['-xf', bundlePath, '-C', x]);
    const verified = tool('minisign', [
      '-V',
      '-H',
      '-Q',
      '-m',
      join(x, 'manifest.json'),
      '-x',
      join(x, 'manifest.json.minisig'),
      '-P',
      signer.minisignKey,
    ]);
    expect(verified).toMatchObject({ status: 0, stdout: 'bundle:bundle-school-42-3f2a\n' });

    const manifestText = await readFile(join(x, 'manifest.json'), 'utf8');
    expect(manifestText).toBe(built.manifestJson);
    const manifest = JSON.parse(manifestText);
    expect(Object.keys(manifest)).toEqual(['format', 'bundleId', 'audience', 'lessons', 'entries']);
    expect(manifest).toMatchObject({
      format: 'classcast-bundle/1',
      bundleId: 'bundle-school-42-3f2a',
      audience: { type: 'school', id: 'school-42' },
      lessons: [
        { lessonId: L1, version: 2 },
        { lessonId: L2, version: 1 },
      ],
    });

    const decoded = join(dir, 'decoded');
    await mkdir(decoded);
    for (const entry of manifest.entries) {
      const member = join(x, entry.member);
      const output = join(decoded, entry.sha256);
      if (entry.encoding === 'identity') {
        toolOk('cp', [member, output]);
      } else if (entry.encoding === 'zstd') {
        toolOk('zstd', ['-d', '-q', member, '-o', output]);
      } else {
        expect(Object.keys(entry)).toEqual([
          'member',
          'encoding',
          'base',
          'sha256',
          'size',
          'targets',
        ]);
        const baseFile = files.find((f) => f.base?.sha256 === entry.base)?.base;
        toolOk('zstd', ['-d', '-q', `--patch-from=${baseFile?.localPath}`, member, '-o', output]);
      }
      expect(sha256sum(output)).toBe(entry.sha256);
      expect((await stat(output)).size).toBe(entry.size);
    }

    const whole = tool('minisign', ['-V', '-H', '-Q', '-m', bundlePath, '-P', signer.minisignKey]);
    expect(whole).toMatchObject({ status: 0, stdout: 'bundle:bundle-school-42-3f2a\n' });

    expect(await readdir(out)).toEqual(['bundle.tar', 'bundle.tar.minisig']);
    expect(await readdir(join(dir, 'work'))).toEqual([]);
  });

  it('rebuilds byte-identical files from the same inputs in another order', async () => {
    const a = join(dir, 'a.tar');
    const b = join(dir, 'b.tar');
    const first = await buildBundle(input(), a);
    const second = await buildBundle(
      input({ files: [...files].reverse(), lessons: [...input().lessons].reverse() }),
      b,
    );
    expect(second.sha256).toBe(first.sha256);
    expect((await readFile(a)).equals(await readFile(b))).toBe(true);
    expect(await readFile(`${b}.minisig`, 'utf8')).toBe(await readFile(`${a}.minisig`, 'utf8'));
  });

  async function expectNothingLeft(outDir: string): Promise<void> {
    expect(await readdir(outDir)).toEqual([]);
    expect(await readdir(join(dir, 'work'))).toEqual([]);
  }

  it('leaves nothing at the output path when it fails while writing the tar', async () => {
    const outDir = join(dir, 'fail-write');
    await mkdir(outDir);
    let sawTemporaryFile = false;
    const onProgress = (fraction: number): void => {
      // Past the encode phase, a temporary bundle file exists: it must not survive.
      const names = readdirSync(outDir);
      if (fraction > 0.6 && names.some((n) => n.startsWith('bundle.tar.tmp-'))) {
        sawTemporaryFile = true;
        throw new Error('worker lost its lock');
      }
    };
    await expect(buildBundle(input({ onProgress }), join(outDir, 'bundle.tar'))).rejects.toThrow(
      'worker lost its lock',
    );
    expect(sawTemporaryFile).toBe(true);
    await expectNothingLeft(outDir);
  });

  it('leaves nothing behind when a staged file is missing or is not the blob it claims', async () => {
    const outDir = join(dir, 'fail-input');
    await mkdir(outDir);
    const missing = [
      ...files,
      { ...the.notes, sha256: 'f'.repeat(64), localPath: join(dir, 'gone') },
    ];
    await expect(
      buildBundle(input({ files: missing }), join(outDir, 'bundle.tar')),
    ).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await expectNothingLeft(outDir);

    const wrong = [...files, { ...the.notes, sha256: 'e'.repeat(64) }];
    await expect(
      buildBundle(input({ files: wrong }), join(outDir, 'bundle.tar')),
    ).rejects.toMatchObject({
      code: 'checksum_mismatch',
    });
    await expectNothingLeft(outDir);
  });

  it('refuses a file whose target is a lesson version the bundle does not bring', async () => {
    const stray = [{ ...the.notes, targets: [{ lessonId: L2, version: 9, path: 'x.txt' }] }];
    await expect(buildBundle(input({ files: stray }), join(dir, 'never.tar'))).rejects.toThrow(
      /not in lessons/,
    );
  });
});
