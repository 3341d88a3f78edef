/** Shared set-up of the loopback carousel specs: a small term on disk, receivers, a capture sink. */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from './loss-model';
import type { BroadcastFile } from './objects';
import { FluteReceiver, type ReceivedFile, type ReceiverOptions } from './receiver';

export async function tempDir(
  prefix: string,
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `cc-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i += 4) {
    const v = Math.floor(random() * 0x100000000);
    out.writeUInt32LE(v >>> 0, Math.min(i, length - 4));
  }
  return out;
}

/** A small term: a video cut into two objects, a PDF, and a JSON manifest held in memory. */
export async function makeTerm(dir: string, scale = 1): Promise<BroadcastFile[]> {
  const video = join(dir, 'lecture.mp4');
  const pdf = join(dir, 'slides.pdf');
  await writeFile(video, pseudoRandomBytes(Math.round(5_000_000 * scale), 1));
  await writeFile(pdf, pseudoRandomBytes(Math.round(1_200_000 * scale), 2));
  return [
    {
      contentLocation: 'classcast:files/lecture.mp4',
      contentType: 'video/mp4',
      source: { path: video },
    },
    {
      contentLocation: 'classcast:files/slides.pdf',
      contentType: 'application/pdf',
      source: { path: pdf },
    },
    {
      contentLocation: 'classcast:sync/manifest.json',
      contentType: 'application/json',
      source: {
        bytes: Buffer.from(
          JSON.stringify({ version: 7, bundles: ['a'.repeat(64)], pad: 'x'.repeat(3000) }),
        ),
      },
    },
  ];
}

export async function expectedBytes(files: BroadcastFile[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const f of files) {
    out.set(
      f.contentLocation,
      'bytes' in f.source ? Buffer.from(f.source.bytes) : await readFile(f.source.path),
    );
  }
  return out;
}

export interface TestReceiver {
  receiver: FluteReceiver;
  files: Map<string, ReceivedFile>;
  port: number;
}

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export async function startReceiver(
  options: Omit<ReceiverOptions, 'port'> & { port?: number },
): Promise<TestReceiver> {
  const port = options.port ?? (await freeUdpPort());
  const receiver = await FluteReceiver.start({ address: '127.0.0.1', ...options, port });
  const files = new Map<string, ReceivedFile>();
  receiver.on('file', (f: ReceivedFile) => files.set(f.contentLocation, f));
  return { receiver, files, port };
}

/** Records every datagram in order, so specs can replay a carousel deterministically. */
export class Capture {
  readonly datagrams: Buffer[] = [];
  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {
    socket.on('message', (m) => this.datagrams.push(m));
  }
  static async start(): Promise<Capture> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    socket.setRecvBufferSize(4 * 1024 * 1024);
    return new Capture(socket, socket.address().port);
  }
  /** Waits until no datagram arrived for quietMs. */
  async settle(quietMs = 300): Promise<void> {
    let count = -1;
    while (count !== this.datagrams.length) {
      count = this.datagrams.length;
      await new Promise((r) => setTimeout(r, quietMs));
    }
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
