import { readFile, rm, truncate, writeFile, appendFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, toolOk, writeNoiseFile } from './cli-tools.fixture';
import {
  shouldCompress,
  zstdApplyPatch,
  zstdCompressFile,
  zstdDecompressFile,
  zstdPatch,
  zstdProbeSaving,
  zstdWindowSize,
} from './compress';

/** A JSON catalog of `n` lessons: compresses well, and a small edit makes a small patch. */
function catalog(n: number, edited = -1): string {
  const lessons = Array.from({ length: n }, (_, i) => ({
    id: `lesson-${i}`,
    title:
      i === edited
        ? 'Music for grade 3, revised edition'
        : `English lesson ${i} for grade ${(i % 6) + 1}`,
    files: [`video-${i}.mp4`, `slides-${i}.pdf`],
  }));
  return JSON.stringify({ lessons }, null, 2);
}

describe('zstd through the CLI', () => {
  let dir: string;
  const at = (name: string): string => join(dir, name);

  beforeAll(async () => {
    dir = await tempDir('zstd');
    await writeFile(at('catalog.json'), catalog(20_000));
    await writeFile(at('catalog-v2.json'), catalog(20_000, 777));
    await writeNoiseFile(at('noise.bin'), 3 * 1024 * 1024);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('compresses a file that the stock zstd decompresses, identically on every run', async () => {
    await zstdCompressFile(at('catalog.json'), at('c1.zst'), 9);
    await zstdCompressFile(at('catalog.json'), at('c2.zst'), 9);
    const [c1, c2, original] = await Promise.all(
      ['c1.zst', 'c2.zst', 'catalog.json'].map((f) => readFile(at(f))),
    );
    expect(c1.equals(c2)).toBe(true);
    expect(c1.length).toBeLessThan(original.length / 5);
    toolOk('zstd', ['-d', '-q', '-f', at('c1.zst'), '-o', at('c1.out')]);
    expect((await readFile(at('c1.out'))).equals(original)).toBe(true);
    await zstdDecompressFile(at('c1.zst'), at('c1.ours'));
    expect((await readFile(at('c1.ours'))).equals(original)).toBe(true);
  });

  it('probes the saving on a sample: high for text, about nothing for noise', async () => {
    expect(await zstdProbeSaving(at('catalog.json'), 3)).toBeGreaterThan(0.8);
    expect(await zstdProbeSaving(at('noise.bin'), 3)).toBeLessThan(0.01);
    // Smaller than the sample size: the whole file is the sample.
    expect(await zstdProbeSaving(at('noise.bin'), 3, 8 * 1024 * 1024)).toBeLessThan(0.01);
    await writeFile(at('empty'), '');
    expect(await zstdProbeSaving(at('empty'), 3)).toBe(0);
  });

  it('makes a small patch that the stock zstd --patch-from applies', async () => {
    await zstdPatch(at('catalog.json'), at('catalog-v2.json'), at('p.zst'), 9);
    const patch = await readFile(at('p.zst'));
    expect(patch.length).toBeLessThan(1000);
    toolOk('zstd', [
      '-d',
      '-q',
      '-f',
      `--patch-from=${at('catalog.json')}`,
      at('p.zst'),
      '-o',
      at('p.out'),
    ]);
    const target = await readFile(at('catalog-v2.json'));
    expect((await readFile(at('p.out'))).equals(target)).toBe(true);
    await zstdApplyPatch(at('catalog.json'), at('p.zst'), at('p.ours'));
    expect((await readFile(at('p.ours'))).equals(target)).toBe(true);
  });

  it('patches beyond the default 128 MiB window with --long, and reads that window back', async () => {
    // Sparse zeros: a big base without the cost of writing it.
    await writeFile(at('big-base'), '');
    await truncate(at('big-base'), 140 * 1024 * 1024);
    await copyFile(at('big-base'), at('big-target'));
    await appendFile(at('big-target'), 'one more line\n');
    await zstdPatch(at('big-base'), at('big-target'), at('big.zst'), 3);
    expect(await zstdWindowSize(at('big.zst'))).toBeGreaterThan(128 * 1024 * 1024);
    await zstdApplyPatch(at('big-base'), at('big.zst'), at('big.out'));
    const sums = toolOk('sha256sum', [at('big-target'), at('big.out')])
      .trim()
      .split('\n')
      .map((line) => line.split(' ')[0]);
    expect(sums[0]).toBe(sums[1]);
    await rm(at('big-base'));
    await rm(at('big-target'));
    await rm(at('big.out'));
  });

  it('kills zstd on timeout and reports it', async () => {
    await expect(
      zstdCompressFile(at('noise.bin'), at('slow.zst'), 19, { timeoutMs: 1 }),
    ).rejects.toThrow(/timed out after 1 ms/);
  });

  it('reports zstd stderr when it fails', async () => {
    const failure = zstdCompressFile(at('catalog.json'), join(dir, 'no-such-dir', 'x.zst'), 3);
    await expect(failure).rejects.toMatchObject({
      code: 'internal_error',
      details: [expect.objectContaining({ stderr: expect.stringMatching(/no-such-dir/) })],
    });
    await writeFile(
      at('corrupt.zst'),
      Buffer.concat([(await readFile(at('p.zst'))).subarray(0, 20), Buffer.alloc(40, 9)]),
    );
    await expect(zstdApplyPatch(at('catalog.json'), at('corrupt.zst'), at('x'))).rejects.toThrow(
      /zstd apply/,
    );
  });

  it('refuses levels zstd does not have', async () => {
    await expect(zstdCompressFile(at('catalog.json'), at('x.zst'), 0)).rejects.toThrow(/level/);
  });

  it.each([
    ['application/json', true],
    ['text/html; charset=utf-8', true],
    ['application/octet-stream', true],
    ['audio/wav', true],
    ['image/svg+xml', true],
    ['video/mp4', false],
    ['audio/ogg', false],
    ['audio/flac', false],
    ['image/jpeg', false],
    ['IMAGE/PNG', false],
    ['image/webp', false],
    ['application/pdf', false],
    ['application/zip', false],
    ['application/epub+zip', false],
    ['font/woff2', false],
  ])('shouldCompress(%s) is %s', (mediaType, expected) => {
    expect(shouldCompress(mediaType)).toBe(expected);
  });
});
