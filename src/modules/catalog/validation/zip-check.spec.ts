import { randomBytes } from 'node:crypto';
import { checkZipPackage, DEFAULT_ZIP_LIMITS } from './zip-check';
import { crc32, rejection, ZipScratch, type FixtureEntry } from './zip-writer.fixture';

const html = Buffer.from('<!doctype html><title>第一课</title><script src="js/app.js"></script>');
let scratch: ZipScratch;

beforeAll(async () => {
  scratch = await ZipScratch.create();
});

afterAll(async () => {
  await scratch.remove();
});

async function unsafeEntry(entries: FixtureEntry[], limits = DEFAULT_ZIP_LIMITS) {
  const err = await rejection(checkZipPackage(await scratch.write(entries), limits));
  expect(err.code).toBe('zip_unsafe');
  expect(err.status).toBe(422);
  return err;
}

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
    const summary = await checkZipPackage(await scratch.write(files), DEFAULT_ZIP_LIMITS);
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
    const summary = await checkZipPackage(await scratch.write(entries));
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
      await expect(checkZipPackage(await scratch.write([{ name }]))).resolves.toMatchObject({
        entries: 1,
      });
      expect(Date.now() - started).toBeLessThan(15_000);
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
    await expect(
      checkZipPackage(await scratch.write(entries.slice(0, 3)), limits),
    ).resolves.toEqual(expect.objectContaining({ entries: 3 }));
  });
});
