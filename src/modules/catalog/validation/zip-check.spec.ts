import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { AppError } from '../../../common/errors/app-error';
import { checkZipPackage, DEFAULT_ZIP_LIMITS, inflateCheck } from './zip-check';
import { buildZip, crc32, type FixtureEntry } from './zip-writer.fixture';

const MiB = 1024 ** 2;
const html = Buffer.from('<!doctype html><title>第一课</title><script src="js/app.js"></script>');

let dir: string;
let counter = 0;
// 50 MiB of zeros deflate to ~50 KiB (about 1000:1); compressed once and reused as raw data.
let bombData: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'classcast-zip-'));
  bombData = deflateRawSync(Buffer.alloc(50 * MiB));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function zipFile(content: FixtureEntry[] | Buffer): Promise<string> {
  const path = join(dir, `${counter++}.zip`);
  await writeFile(path, Buffer.isBuffer(content) ? content : buildZip(content));
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected the zip to be rejected');
}

async function unsafeEntry(entries: FixtureEntry[], limits = DEFAULT_ZIP_LIMITS) {
  const err = await rejection(checkZipPackage(await zipFile(entries), limits));
  expect(err.code).toBe('zip_unsafe');
  expect(err.status).toBe(422);
  return err;
}

const bomb = (name: string, declaredSize = 50 * MiB): FixtureEntry => ({
  name,
  rawData: bombData,
  declaredSize,
});

describe('the test zip writer', () => {
  it('computes the standard CRC-32 check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('checkZipPackage', () => {
  it('accepts an HTML5 package and summarises it', async () => {
    const files: FixtureEntry[] = [
      { name: 'css/' },
      { name: 'index.html', data: html },
      { name: 'css/app.css', data: Buffer.from('body { margin: 0 }') },
      { name: 'js/app.js', data: Buffer.from('console.log("hi")'.repeat(100)) },
      { name: 'img/logo.png', method: 0, data: randomBytes(3000) },
      { name: '课件/第一课.html', data: html },
      // Small, extremely compressible files are normal (padding, blank data) and not a bomb.
      { name: 'data/blank.bin', data: Buffer.alloc(512 * 1024) },
    ];
    const summary = await checkZipPackage(await zipFile(files), DEFAULT_ZIP_LIMITS);
    const bytes = html.length * 2 + 18 + 1700 + 3000 + 512 * 1024;
    expect(summary).toEqual({ entries: 7, uncompressedBytes: bytes, hasIndexHtml: true });
  });

  it.each([
    ['in a single top-level folder', ['pkg/index.html', 'pkg/a.js'], true],
    ['beside Finder droppings', ['pkg/index.html', '__MACOSX/pkg/._index.html', '.DS_Store'], true],
    ['nowhere', ['main.html', 'a.js'], false],
    ['too deep', ['a/b/index.html'], false],
    ['in one of two top-level folders', ['a/index.html', 'b/x.js'], false],
    ['in a folder beside root files', ['a/index.html', 'readme.txt'], false],
  ])('reports index.html %s', async (_label, names, expected) => {
    const entries = names.map((name) => ({ name, data: html }));
    const summary = await checkZipPackage(await zipFile(entries));
    expect(summary.hasIndexHtml).toBe(expected);
  });

  describe('zip slip', () => {
    it.each([
      ['a parent path', '../../etc/passwd', '../../etc/passwd'],
      ['a Windows parent path', '..\\..\\evil', '../../evil'],
      ['a parent in the middle', 'assets/../../x', 'assets/../../x'],
      ['an absolute path', '/etc/x', '/etc/x'],
      ['a drive letter', 'C:/Windows/x.dll', 'C:/Windows/x.dll'],
    ])('refuses %s, naming the entry', async (_label, name, reported) => {
      const err = await unsafeEntry([{ name: 'index.html', data: html }, { name }]);
      expect(err.details).toEqual([{ field: 'file', entry: reported, message: err.message }]);
      expect(err.message).toContain(reported);
    });

    it.each([
      ['a dot segment', 'a/./b.js'],
      ['a device name', 'CON.txt'],
      ['a control character', 'a\u0001b.js'],
      ['a trailing dot', 'js./a.js'],
    ])('refuses %s through the lesson path rules', async (_label, name) => {
      const err = await unsafeEntry([{ name, data: html }]);
      expect(err.details).toEqual([{ field: 'file', entry: name, message: err.message }]);
      expect(err.message).toMatch(/unsafe name/);
    });

    it('echoes only a bounded prefix of a huge entry name', async () => {
      const name = '长'.repeat(20_000);
      const err = await unsafeEntry([{ name, data: html }]);
      expect(err.message.length).toBeLessThan(1000);
      expect(err.details).toEqual([
        { field: 'file', entry: `${name.slice(0, 200)}…`, message: err.message },
      ]);
    });

    it('accepts folder entries with redundant slashes quickly', async () => {
      const started = Date.now();
      const name = `a${'/'.repeat(20_000)}x${'/'.repeat(20_000)}`;
      await expect(checkZipPackage(await zipFile([{ name }]))).resolves.toMatchObject({
        entries: 1,
      });
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('refuses a symbolic link', async () => {
      const link = {
        name: 'link',
        method: 0,
        data: Buffer.from('/etc'),
        versionMadeBy: (3 << 8) | 20,
        externalAttributes: (0o120777 << 16) >>> 0,
      };
      expect((await unsafeEntry([link])).message).toMatch(/symbolic link/);
    });
  });

  it('refuses an encrypted entry', async () => {
    const err = await unsafeEntry([{ name: 'secret.html', data: html, flags: 1 }]);
    expect(err.message).toMatch(/encrypted/);
  });

  it('refuses a compression method it cannot inflate', async () => {
    const err = await unsafeEntry([{ name: 'a.html', method: 12, rawData: randomBytes(100) }]);
    expect(err.message).toMatch(/compression method/);
  });

  it.each([
    ['the same name twice', ['a.html', 'a.html']],
    ['names differing only in case', ['Index.html', 'index.HTML']],
    ['composed and decomposed spellings', ['caf\u00e9.html', 'cafe\u0301.html']],
    ['a folder entry and a file of the same name', ['assets/', 'assets']],
  ])('refuses %s', async (_label, names) => {
    const err = await unsafeEntry(names.map((name) => ({ name, data: html })));
    expect(err.message).toMatch(/more than once/);
  });

  it('refuses a name used as a file and as a folder', async () => {
    const err = await unsafeEntry([
      { name: 'js', data: html },
      { name: 'js/app.js', data: html },
    ]);
    expect(err.message).toMatch(/both as a file and as a folder/);
  });

  it('refuses too many entries before reading them', async () => {
    const entries = Array.from({ length: 4 }, (_, i) => ({ name: `${i}.js`, data: html }));
    const limits = { ...DEFAULT_ZIP_LIMITS, maxEntries: 3 };
    expect((await unsafeEntry(entries, limits)).message).toMatch(/more than 3 entries/);
    await expect(checkZipPackage(await zipFile(entries.slice(0, 3)), limits)).resolves.toEqual(
      expect.objectContaining({ entries: 3 }),
    );
  });

  describe('zip bombs', () => {
    it('refuses an entry that expands ~1000 times, from the directory alone', async () => {
      const err = await unsafeEntry([{ name: 'index.html', data: html }, bomb('zeros.bin')]);
      expect(err.message).toMatch(/expands more than 200 times/);
      expect(err.details).toEqual([{ field: 'file', entry: 'zeros.bin', message: err.message }]);
    });

    it('refuses many small entries that together expand too much', async () => {
      const zeros = deflateRawSync(Buffer.alloc(512 * 1024));
      const entries = Array.from({ length: 20 }, (_, i) => ({
        name: `pad/${i}.bin`,
        rawData: zeros,
        declaredSize: 512 * 1024,
      }));
      expect((await unsafeEntry(entries)).message).toMatch(/expands more than 200 times its size/);
    });

    it('refuses a declared total above the limit', async () => {
      const limits = { ...DEFAULT_ZIP_LIMITS, maxTotalUncompressedBytes: 1000 };
      const err = await unsafeEntry([{ name: 'a.js', data: randomBytes(2000) }], limits);
      expect(err.message).toMatch(/unpack to more than 1000 bytes/);
    });

    it('refuses overlapping entries (one compressed kernel counted many times)', async () => {
      const entries: FixtureEntry[] = [{ name: 'a.html', data: html }];
      for (let i = 1; i < 10; i++) entries.push({ name: `${i}.html`, sharesDataWith: 0 });
      expect((await unsafeEntry(entries)).message).toMatch(/overlap/);
    });

    it('catches a directory that understates the size, by inflating', async () => {
      // 50 MiB declared as 100 KiB: a modest 2:1 ratio on paper.
      const err = await unsafeEntry([bomb('liar.bin', 100 * 1024)]);
      expect(err.message).toMatch(/sizes recorded in the zip do not match/);
    });

    it('catches a directory that overstates the size', async () => {
      const err = await unsafeEntry([
        { name: 'a.js', data: randomBytes(1000), declaredSize: 5000 },
      ]);
      expect(err.message).toMatch(/sizes recorded in the zip do not match/);
    });

    it('catches a stored entry whose sizes disagree', async () => {
      const err = await unsafeEntry([{ name: 'a.js', method: 0, data: html, declaredSize: 10 }]);
      expect(err.message).toMatch(/sizes recorded in the zip do not match/);
    });
  });

  describe('corrupt input', () => {
    it('refuses a truncated zip', async () => {
      const whole = buildZip([{ name: 'index.html', data: randomBytes(5000) }]);
      for (const cut of [whole.length - 10, Math.floor(whole.length / 2), 30]) {
        const err = await rejection(checkZipPackage(await zipFile(whole.subarray(0, cut))));
        expect(err.code).toBe('zip_unsafe');
        expect(err.message).toMatch(/not a readable zip/);
      }
    });

    it('refuses a zip whose central directory points past the end of the file', async () => {
      const whole = buildZip([{ name: 'index.html', data: randomBytes(5000) }]);
      const directoryAndEnd = whole.subarray(whole.length - 22 - 46 - 'index.html'.length);
      const err = await rejection(checkZipPackage(await zipFile(directoryAndEnd)));
      expect(err.code).toBe('zip_unsafe');
    });

    it.each([
      ['a text file', Buffer.from('just some text, not a zip')],
      ['an empty file', Buffer.alloc(0)],
      ['a PNG', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
    ])('refuses %s', async (_label, content) => {
      const err = await rejection(checkZipPackage(await zipFile(content)));
      expect(err.code).toBe('zip_unsafe');
      expect(err.message).toMatch(/rebuild it with a standard zip tool/);
    });

    it('refuses corrupt deflate data', async () => {
      const entry = { name: 'a.js', rawData: Buffer.alloc(200, 0xff), declaredSize: 100 };
      const err = await unsafeEntry([entry]);
      expect(err.message).toMatch(/not a readable zip/);
    });

    it('lets a missing file through as a system error, not as bad input', async () => {
      await expect(checkZipPackage(join(dir, 'missing.zip'))).rejects.toMatchObject({
        code: 'ENOENT',
      });
    });

    it('never crashes and always closes the file on randomly damaged zips', async () => {
      const openFds = (): number => readdirSync('/proc/self/fd').length;
      const before = existsSync('/proc/self/fd') ? openFds() : 0;
      const pristine = buildZip([
        { name: 'index.html', data: html },
        { name: 'js/app.js', data: Buffer.from('let x = 1;\n'.repeat(400)) },
        { name: 'img/a.png', method: 0, data: randomBytes(300) },
      ]);
      let seed = 42;
      const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
      for (let round = 0; round < 300; round++) {
        const damaged = Buffer.from(pristine);
        for (let flips = 1 + (next() % 4); flips > 0; flips--) {
          damaged[next() % damaged.length] = next() % 256;
        }
        const outcome = await checkZipPackage(await zipFile(damaged)).catch((err: unknown) => err);
        if (outcome instanceof Error) expect(outcome).toMatchObject({ code: 'zip_unsafe' });
      }
      // Give yauzl's deferred closes a turn before counting descriptors.
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (before > 0) expect(openFds()).toBeLessThanOrEqual(before);
    });
  });
});

describe('inflateCheck', () => {
  it('counts the real bytes of every entry', async () => {
    const path = await zipFile([
      { name: 'a.html', data: html },
      { name: 'b.bin', method: 0, data: randomBytes(777) },
    ]);
    await expect(inflateCheck(path, DEFAULT_ZIP_LIMITS)).resolves.toEqual({
      entries: 2,
      uncompressedBytes: html.length + 777,
    });
  });

  it('aborts once the real total exceeds the limit', async () => {
    const path = await zipFile([bomb('zeros.bin')]);
    const limits = { maxEntries: 10, maxTotalUncompressedBytes: MiB, maxRatio: 1e9 };
    const err = await rejection(inflateCheck(path, limits));
    expect(err.code).toBe('zip_unsafe');
    expect(err.message).toMatch(/unpack to more than 1048576 bytes/);
  });

  it('refuses an entry whose real bytes exceed the ratio', async () => {
    const err = await rejection(inflateCheck(await zipFile([bomb('zeros.bin')])));
    expect(err.message).toMatch(/expands more than 200 times/);
  });

  it('refuses an encrypted entry instead of reading it', async () => {
    const path = await zipFile([{ name: 'a.html', data: html, flags: 1 }]);
    expect((await rejection(inflateCheck(path))).message).toMatch(/encrypted/);
  });
});
