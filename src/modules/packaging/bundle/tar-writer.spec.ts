import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { tempDir, toolOk, writeNoiseFile } from './cli-tools.fixture';
import { TarWriter } from './tar-writer';

const PATCH_NAME = `patches/${'a'.repeat(64)}-${'b'.repeat(64)}.zst`; // 141 bytes: needs pax

describe('TarWriter', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('tar');
    await writeNoiseFile(join(dir, 'video.bin'), 300_001);
    await writeFile(join(dir, 'block.bin'), Buffer.alloc(512, 7));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeArchive(path: string): Promise<void> {
    const tar = new TarWriter(createWriteStream(path));
    await tar.addBuffer('manifest.json', Buffer.from('{"a":1}\n'));
    await tar.addFile(PATCH_NAME, 300_001, createReadStream(join(dir, 'video.bin')));
    await tar.addFile('files/block', 512, createReadStream(join(dir, 'block.bin')));
    await tar.addBuffer('files/empty', Buffer.alloc(0));
    await tar.addBuffer('files/ünïcode-名前.txt', Buffer.from('utf-8 name'));
    await tar.finish();
  }

  it('writes an archive GNU tar lists with fixed owner, mode and time, and extracts intact', async () => {
    const archive = join(dir, 'a.tar');
    await writeArchive(archive);

    const listing = toolOk('tar', ['--utc', '-tvf', archive]).trim().split('\n');
    expect(listing).toHaveLength(5);
    for (const line of listing) {
      expect(line).toMatch(/^-rw-r--r-- 0\/0 +\d+ 1970-01-01 00:00 /);
    }
    expect(listing.map((l) => l.replace(/^.* 00:00 /, ''))).toEqual([
      'manifest.json',
      PATCH_NAME,
      'files/block',
      'files/empty',
      'files/ünïcode-名前.txt',
    ]);
    expect(listing[1]).toMatch(/ 300001 1970/);

    const out = join(dir, 'out');
    await mkdir(out);
    toolOk('tar', ['-xf', archive, '-C', out]);
    expect(await readFile(join(out, 'manifest.json'), 'utf8')).toBe('{"a":1}\n');
    // Buffer.equals: Jest's toEqual walks big buffers byte by byte, slowly.
    expect(
      (await readFile(join(out, PATCH_NAME))).equals(await readFile(join(dir, 'video.bin'))),
    ).toBe(true);
    expect(await readFile(join(out, 'files/block'))).toEqual(Buffer.alloc(512, 7));
    expect((await readFile(join(out, 'files/empty'))).length).toBe(0);
    expect(await readFile(join(out, 'files/ünïcode-名前.txt'), 'utf8')).toBe('utf-8 name');

    const bytes = await readFile(archive);
    expect(bytes.length % 512).toBe(0);
    expect(bytes.subarray(-1024)).toEqual(Buffer.alloc(1024));
  });

  it('writes byte-identical archives for the same inputs', async () => {
    await writeArchive(join(dir, 'one.tar'));
    await writeArchive(join(dir, 'two.tar'));
    const [one, two] = await Promise.all([
      readFile(join(dir, 'one.tar')),
      readFile(join(dir, 'two.tar')),
    ]);
    expect(one.equals(two)).toBe(true);
  });

  it('honours backpressure: a slow output never has more than a chunk queued beyond its mark', async () => {
    const highWaterMark = 16 * 1024;
    let maxQueued = 0;
    let received = 0;
    const slow = new Writable({
      highWaterMark,
      write(chunk: Buffer, _encoding, callback): void {
        received += chunk.length;
        setImmediate(callback);
      },
    });
    const chunk = 64 * 1024;
    function* source(): Generator<Buffer> {
      for (let i = 0; i < 128; i += 1) {
        maxQueued = Math.max(maxQueued, slow.writableLength);
        yield Buffer.alloc(chunk, i);
      }
    }
    const tar = new TarWriter(slow);
    await tar.addFile('files/big', 128 * chunk, Readable.from(source()));
    await tar.finish();
    expect(received).toBe(512 + 128 * chunk + 1024);
    expect(maxQueued).toBeLessThanOrEqual(highWaterMark + chunk);
  });

  it('rejects a source shorter or longer than the stated size', async () => {
    const sink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });
    await expect(
      new TarWriter(sink()).addFile('files/x', 10, Readable.from([Buffer.alloc(9)])),
    ).rejects.toThrow(/ended after 9 of 10 bytes/);
    await expect(
      new TarWriter(sink()).addFile('files/x', 10, Readable.from([Buffer.alloc(11)])),
    ).rejects.toThrow(/exceeds 10 bytes/);
  });

  it('refuses names that could escape the extraction directory', async () => {
    const tar = new TarWriter(new Writable({ write: (_c, _e, cb) => cb() }));
    for (const name of ['../x', '/etc/passwd', 'a//b', 'a/./b', '', 'a\\b']) {
      await expect(tar.addBuffer(name, Buffer.from('x'))).rejects.toMatchObject({
        code: 'invalid_path',
      });
    }
  });

  it('puts sizes beyond the ustar field (8 GiB) in a pax record', async () => {
    const written: Buffer[] = [];
    const tar = new TarWriter(
      new Writable({
        write(chunk: Buffer, _e, cb): void {
          written.push(chunk);
          cb();
        },
      }),
    );
    const huge = 9 * 1024 ** 3;
    const failing = new Readable({
      read(): void {
        this.destroy(new Error('stop after the headers'));
      },
    });
    await expect(tar.addFile('files/huge', huge, failing)).rejects.toThrow(/stop after/);
    const bytes = Buffer.concat(written);
    expect(bytes.subarray(512, 1024).toString('latin1')).toMatch(/^\d+ size=9663676416\n/);
    const header = bytes.subarray(1024, 1536);
    expect(header.subarray(0, 10).toString('latin1')).toBe('files/huge');
    expect(header.subarray(124, 136).toString('latin1')).toBe('00000000000\0');
  });
});
