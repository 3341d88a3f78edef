import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { makeTempDir } from '../../../test/storage/storage-fixtures';
import { StorageService } from './storage.service';

const TOTAL = 256 * 1024 * 1024;
const CHUNK = 64 * 1024;
const RSS_BUDGET = 64 * 1024 * 1024;

/** Makes `total` bytes on demand, hashing them as it goes, so the test itself holds one chunk at a time. */
function generated(total: number): { source: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let produced = 0;
  const source = new Readable({
    read() {
      if (produced >= total) {
        this.push(null);
        return;
      }
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, total - produced));
      chunk.fill(produced % 251);
      chunk.writeUInt32LE(produced / CHUNK, 0);
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { source, digest: () => hash.digest('hex') };
}

it('stages 256 MB without holding it in memory', async () => {
  const dataDir = await makeTempDir('storage-memory');
  const storage = new StorageService({ driver: 'fs', dataDir });
  await storage.onModuleInit();
  try {
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
    const { source, digest } = generated(TOTAL);
    const staged = await storage.stage(source).finally(() => clearInterval(sampler));
    peak = Math.max(peak, process.memoryUsage.rss());

    expect(staged.size).toBe(TOTAL);
    expect(staged.sha256).toBe(digest());
    expect(peak - baseline).toBeLessThan(RSS_BUDGET);
    await storage.discard(staged);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
