/**
 * The anchor of the upload benchmark: the least a Node server can do with an upload and still do
 * what Classcast does with its bytes, that is stream the body to a file in the data directory
 * while hashing it with sha256. Run as its own process: `node streaming-sink.js <dir>`; it prints
 * `{"port": n}` once listening. `?fsync=1` also flushes the file to disk before answering,
 * as the blob store does before it makes a blob visible.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: streaming-sink <directory>');
  process.exit(2);
}

let received = 0;

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const server = createServer((req, res) => {
  const path = join(dir, `body-${process.pid}-${++received}`);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      size += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const wantsSync = (req.url ?? '').includes('fsync=1');
  // Only the timing matters; the bytes go once the answer is out.
  const forget = () => void unlink(path).catch(() => undefined);
  pipeline(req, meter, createWriteStream(path))
    .then(async () => {
      if (wantsSync) await fsync(path);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ size, sha256: hash.digest('hex') }), forget);
    })
    .catch((err: unknown) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(err instanceof Error ? err.message : String(err), forget);
    });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
