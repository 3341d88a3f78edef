/** Worker-thread entry of FecWorkerPool: the CPU-heavy half of the FLUTE engine. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { FEC_RAPTORQ } from '../flute/oti';
import {
  decodeObject,
  encodeRepairSymbols,
  extendedSourceSymbols,
  type ReceivedSymbol,
} from './raptorq';
import type {
  AssembleRequest,
  AssembleResult,
  DecodeRequest,
  DecodeResult,
  EncodeRequest,
  EncodeResult,
  ObjectSource,
  WorkerRequest,
  WorkerResponse,
} from './worker-protocol';

async function readSource(source: ObjectSource): Promise<Uint8Array> {
  if ('bytes' in source) return source.bytes;
  const fh = await open(source.path, 'r');
  try {
    const buf = Buffer.allocUnsafe(source.length);
    let done = 0;
    while (done < source.length) {
      const { bytesRead } = await fh.read(buf, done, source.length - done, source.offset + done);
      if (bytesRead === 0) throw new Error(`${source.path} is shorter than expected`);
      done += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

async function writeAtomically(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

async function encode(req: EncodeRequest): Promise<EncodeResult> {
  const data = await readSource(req.source);
  const started = performance.now();
  const md5 = createHash('md5').update(data).digest('base64');
  const sha256 = createHash('sha256').update(data).digest('hex');
  const k = Math.max(1, Math.ceil(data.length / req.oti.symbolSize));
  let kPrime = k;
  if (req.oti.fecEncodingId === FEC_RAPTORQ) {
    kPrime = extendedSourceSymbols(k);
    if (req.repairCount > 0) {
      if (!req.repairPath) throw new Error('repairPath required');
      const repairs = encodeRepairSymbols(data, req.oti, req.repairCount);
      await writeAtomically(req.repairPath, repairs);
    }
  }
  return {
    md5,
    sha256,
    sourceSymbols: k,
    extendedSourceSymbols: kPrime,
    encodeMs: performance.now() - started,
  };
}

/** Reads a symbol log; the first copy of each ESI wins, a torn last record is ignored. */
function parseLog(buf: Buffer): Map<number, Uint8Array> {
  const symbols = new Map<number, Uint8Array>();
  let at = 0;
  while (at + 8 <= buf.length) {
    const esi = buf.readUInt32BE(at);
    const len = buf.readUInt32BE(at + 4);
    if (at + 8 + len > buf.length) break;
    if (!symbols.has(esi)) symbols.set(esi, buf.subarray(at + 8, at + 8 + len));
    at += 8 + len;
  }
  return symbols;
}

async function decode(req: DecodeRequest): Promise<DecodeResult> {
  const started = performance.now();
  const log = await readFile(req.symbolLog);
  const symbols = parseLog(req.logBytes === undefined ? log : log.subarray(0, req.logBytes));
  const { oti } = req;
  const t = oti.symbolSize;
  const k = Math.max(1, Math.ceil(oti.transferLength / t));
  const result = (status: DecodeResult['status'], decoded: boolean): DecodeResult => ({
    status,
    symbols: symbols.size,
    decoded,
    decodeMs: performance.now() - started,
  });
  let data: Buffer | undefined;
  let decoded = false;
  let haveAllSource = true;
  for (let esi = 0; esi < k; esi++) {
    if (!symbols.has(esi)) {
      haveAllSource = false;
      break;
    }
  }
  if (haveAllSource) {
    data = Buffer.allocUnsafe(oti.transferLength);
    for (let esi = 0; esi < k; esi++) {
      const s = symbols.get(esi)!;
      const at = esi * t;
      data.set(s.subarray(0, Math.min(t, oti.transferLength - at)), at);
    }
  } else if (oti.fecEncodingId === FEC_RAPTORQ && symbols.size >= k) {
    decoded = true;
    const ordered: ReceivedSymbol[] = [...symbols.entries()]
      .filter(([, d]) => d.length === t)
      .sort((a, b) => a[0] - b[0])
      .map(([esi, d]) => ({ esi, data: d }));
    data = decodeObject(oti, ordered);
  }
  if (!data) return result('insufficient', decoded);
  if (req.md5 && createHash('md5').update(data).digest('base64') !== req.md5)
    return result('corrupt', decoded);
  if (req.sha256 && createHash('sha256').update(data).digest('hex') !== req.sha256)
    return result('corrupt', decoded);
  await writeAtomically(req.outPath, data);
  return result('decoded', decoded);
}

async function assemble(req: AssembleRequest): Promise<AssembleResult> {
  const hash = createHash('sha256');
  const tmp = `${req.outPath}.${process.pid}.${Date.now()}.tmp`;
  const out = await open(tmp, 'w');
  let length = 0;
  try {
    for (const part of req.parts) {
      for await (const chunk of createReadStream(part, { highWaterMark: 1 << 20 })) {
        const b = chunk as Buffer;
        hash.update(b);
        await out.write(b);
        length += b.length;
      }
    }
  } finally {
    await out.close();
  }
  if (length !== req.length || hash.digest('hex') !== req.sha256) {
    await rm(tmp, { force: true });
    return { status: 'corrupt' };
  }
  await rename(tmp, req.outPath);
  return { status: 'ok' };
}

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.type) {
    case 'encode':
      return encode(request);
    case 'decode':
      return decode(request);
    case 'assemble':
      return assemble(request);
  }
}

const port = parentPort;
if (port) {
  port.on('message', (msg: { id: number; request: WorkerRequest }) => {
    handle(msg.request).then(
      (result) => port.postMessage({ id: msg.id, ok: true, result } satisfies WorkerResponse),
      (err: unknown) =>
        port.postMessage({
          id: msg.id,
          ok: false,
          error: err instanceof Error ? err.message : String(err),
        } satisfies WorkerResponse),
    );
  });
}
