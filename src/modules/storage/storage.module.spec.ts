import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppError } from '../../common/errors/app-error';
import { chunked, filesUnder, makeTempDir, sha256Of } from '../../../test/storage/storage-fixtures';
import { StorageModule } from './storage.module';
import { StorageService } from './storage.service';
import type { StorageOptions } from './storage.options';

let baseDir: string;

beforeAll(async () => {
  baseDir = await makeTempDir('storage-module');
});

afterAll(() => rm(baseDir, { recursive: true, force: true }));

async function fsStorage(name: string): Promise<StorageService> {
  const storage = new StorageService({ driver: 'fs', dataDir: join(baseDir, name) });
  await storage.onModuleInit();
  return storage;
}

describe('StorageModule', () => {
  it('forRoot prepares the data directory and sweeps only stale staging files', async () => {
    const dataDir = join(baseDir, 'for-root');
    await mkdir(join(dataDir, 'tmp', 'stale-dir'), { recursive: true });
    await writeFile(join(dataDir, 'tmp', 'stale-file'), 'left by a crash');
    await writeFile(join(dataDir, 'tmp', 'live-upload'), 'still being written');
    const dayAndAnHourAgo = new Date(Date.now() - 25 * 60 * 60 * 1000);
    await utimes(join(dataDir, 'tmp', 'stale-file'), dayAndAnHourAgo, dayAndAnHourAgo);
    await utimes(join(dataDir, 'tmp', 'stale-dir'), dayAndAnHourAgo, dayAndAnHourAgo);

    const moduleRef = await Test.createTestingModule({
      imports: [StorageModule.forRoot({ driver: 'fs', dataDir })],
    }).compile();
    await moduleRef.init();

    expect(moduleRef.get(StorageService).driverName).toBe('fs');
    expect(existsSync(join(dataDir, 'blobs'))).toBe(true);
    expect(await readdir(join(dataDir, 'tmp'))).toEqual(['live-upload']);
    await moduleRef.close();
  });

  it('forRootAsync builds its options from injected providers', async () => {
    const DATA_DIR = Symbol('DATA_DIR');
    @Module({
      providers: [{ provide: DATA_DIR, useValue: join(baseDir, 'for-root-async') }],
      exports: [DATA_DIR],
    })
    class SettingsModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [
        StorageModule.forRootAsync({
          imports: [SettingsModule],
          inject: [DATA_DIR],
          useFactory: (dataDir: string): StorageOptions => ({ driver: 'fs', dataDir }),
        }),
      ],
    }).compile();
    await moduleRef.init();

    const storage = moduleRef.get(StorageService);
    await expect(storage.checkWritable()).resolves.toBeUndefined();
    expect(existsSync(join(baseDir, 'for-root-async', 'tmp'))).toBe(true);
    await moduleRef.close();
  });

  it('refuses the s3 driver without its s3 options', () => {
    expect(() => new StorageService({ driver: 's3', dataDir: baseDir })).toThrow(/s3 options/);
  });
});

describe('StorageService staging', () => {
  it('stages an existing local file in place and commits it', async () => {
    const storage = await fsStorage('existing');
    const content = randomBytes(30_000);
    const localPath = join(baseDir, 'existing', 'finished-upload');
    await writeFile(localPath, content);

    const staged = await storage.stageExisting(localPath, { expectedSha256: sha256Of(content) });
    expect(staged).toMatchObject({ path: localPath, sha256: sha256Of(content), size: 30_000 });
    expect(staged.head.equals(content.subarray(0, 8192))).toBe(true);
    expect(await storage.commit(staged)).toEqual({ created: true });
    expect(existsSync(localPath)).toBe(false);
    expect(await storage.size(staged.sha256)).toBe(30_000);
  });

  it('commits a file staged on another filesystem by copying it beside the target', async () => {
    const otherMount = '/dev/shm';
    const storage = await fsStorage('cross-device');
    const dataDir = join(baseDir, 'cross-device');
    if (!existsSync(otherMount) || (await stat(otherMount)).dev === (await stat(dataDir)).dev) {
      return; // no second filesystem on this machine: rename never fails with EXDEV here
    }
    const content = randomBytes(20_000);
    const localPath = join(otherMount, `classcast-upload-${process.pid}`);
    await writeFile(localPath, content);

    const staged = await storage.stageExisting(localPath);
    expect(await storage.commit(staged)).toEqual({ created: true });
    expect(existsSync(localPath)).toBe(false);
    const stored = await filesUnder(join(dataDir, 'blobs'));
    expect(stored).toEqual([expect.stringMatching(new RegExp(`/${staged.sha256}$`))]);
    expect(await storage.size(staged.sha256)).toBe(content.length);
  });

  it('leaves an existing file alone when its checksum does not match', async () => {
    const storage = await fsStorage('existing-mismatch');
    const localPath = join(baseDir, 'existing-mismatch', 'finished-upload');
    await writeFile(localPath, 'some bytes');
    await expect(
      storage.stageExisting(localPath, { expectedSha256: sha256Of(Buffer.from('other')) }),
    ).rejects.toMatchObject({ code: 'checksum_mismatch' });
    expect(existsSync(localPath)).toBe(true);
  });

  it('discards a staged file, twice without complaint', async () => {
    const storage = await fsStorage('discard');
    const staged = await storage.stage(chunked(randomBytes(1000)));
    await storage.discard(staged);
    await storage.discard(staged);
    expect(await readdir(join(baseDir, 'discard', 'tmp'))).toEqual([]);
  });

  it('reports a failing disk as it is, not as the client truncating the upload', async () => {
    const storage = await fsStorage('disk-failure');
    await rm(join(baseDir, 'disk-failure', 'tmp'), { recursive: true });
    const failure = await storage.stage(chunked(randomBytes(1000))).catch((err: unknown) => err);
    expect(failure).not.toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ code: 'ENOENT' });
  });

  it('reports truncated_upload when an HTTP client disconnects mid-body', async () => {
    const storage = await fsStorage('http-abort');
    let settle: (outcome: unknown) => void = () => undefined;
    const outcome = new Promise<unknown>((resolve) => (settle = resolve));
    const server = createServer((req, res) => {
      storage
        .stage(req)
        .then(settle, settle)
        .finally(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const client = request({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        headers: { 'content-length': 1_000_000 },
      });
      client.on('error', () => undefined);
      // Half the body, then the connection drops, as on a satellite link losing its carrier.
      client.write(randomBytes(100_000), () => setTimeout(() => client.destroy(), 50));

      await expect(outcome).resolves.toMatchObject({ code: 'truncated_upload' });
      expect(await readdir(join(baseDir, 'http-abort', 'tmp'))).toEqual([]);
    } finally {
      server.close();
    }
  });
});

describe('FsBlobDriver.checkWritable', () => {
  it('fails when the blob directory cannot hold files', async () => {
    const storage = await fsStorage('not-a-directory');
    await rm(join(baseDir, 'not-a-directory', 'blobs'), { recursive: true });
    await writeFile(
      join(baseDir, 'not-a-directory', 'blobs'),
      'a file where a directory should be',
    );
    await expect(storage.checkWritable()).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
