import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { checkZipPackage, DEFAULT_ZIP_LIMITS, inflateCheck } from './zip-check';
import { buildZip, rejection, ZipScratch, type FixtureEntry } from './zip-writer.fixture';

const MiB = 1024 ** 2;
const html = Buffer.from('<!doctype html><title>第一课</title><script src="js/app.js"></script>');
let scratch: ZipScratch;
// 50 MiB of zeros deflate to ~50 KiB (about 1000:1); compressed once and reused as raw data.
let bombData: Buffer;

beforeAll(async () => {
  scratch = await ZipScratch.create();
  bombData = deflateRawSync(Buffer.alloc(50 * MiB));
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

const bomb = (name: string, declaredSize = 50 * MiB): FixtureEntry => ({
  name,
  rawData: bombData,
  declaredSize,
});

describe('checkZipPackage against bombs and corrupt archives', () => {
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
        const err = await rejection(checkZipPackage(await scratch.write(whole.subarray(0, cut))));
        expect(err.code).toBe('zip_unsafe');
        expect(err.message).toMatch(/not a readable zip/);
      }
    });

    it('refuses a zip whose central directory points past the end of the file', async () => {
      const whole = buildZip([{ name: 'index.html', data: randomBytes(5000) }]);
      const directoryAndEnd = whole.subarray(whole.length - 22 - 46 - 'index.html'.length);
      const err = await rejection(checkZipPackage(await scratch.write(directoryAndEnd)));
      expect(err.code).toBe('zip_unsafe');
    });

    it.each([
      ['a text file', Buffer.from('just some text, not a zip')],
      ['an empty file', Buffer.alloc(0)],
      ['a PNG', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
    ])('refuses %s', async (_label, content) => {
      const err = await rejection(checkZipPackage(await scratch.write(content)));
      expect(err.code).toBe('zip_unsafe');
      expect(err.message).toMatch(/rebuild it with a standard zip tool/);
    });

    it('refuses corrupt deflate data', async () => {
      const entry = { name: 'a.js', rawData: Buffer.alloc(200, 0xff), declaredSize: 100 };
      const err = await unsafeEntry([entry]);
      expect(err.message).toMatch(/not a readable zip/);
    });

    it('lets a missing file through as a system error, not as bad input', async () => {
      await expect(checkZipPackage(join(scratch.dir, 'missing.zip'))).rejects.toMatchObject({
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
        const outcome = await checkZipPackage(await scratch.write(damaged)).catch(
          (err: unknown) => err,
        );
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
    const path = await scratch.write([
      { name: 'a.html', data: html },
      { name: 'b.bin', method: 0, data: randomBytes(777) },
    ]);
    await expect(inflateCheck(path, DEFAULT_ZIP_LIMITS)).resolves.toEqual({
      entries: 2,
      uncompressedBytes: html.length + 777,
    });
  });

  it('aborts once the real total exceeds the limit', async () => {
    const path = await scratch.write([bomb('zeros.bin')]);
    const limits = { maxEntries: 10, maxTotalUncompressedBytes: MiB, maxRatio: 1e9 };
    const err = await rejection(inflateCheck(path, limits));
    expect(err.code).toBe('zip_unsafe');
    expect(err.message).toMatch(/unpack to more than 1 MiB/);
  });

  it('refuses an entry whose real bytes exceed the ratio', async () => {
    const err = await rejection(inflateCheck(await scratch.write([bomb('zeros.bin')])));
    expect(err.message).toMatch(/expands more than 200 times/);
  });

  it('refuses an encrypted entry instead of reading it', async () => {
    const path = await scratch.write([{ name: 'a.html', data: html, flags: 1 }]);
    expect((await rejection(inflateCheck(path))).message).toMatch(/encrypted/);
  });
});
