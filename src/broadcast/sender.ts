/**
 * The carousel sender: FLUTE over UDP to a multicast group or a list of addresses.
 *
 * prepare(): every object gets its OTI, its hashes and its repair symbols for the planned cycles,
 * computed once in worker threads and cached on disk (a second prepare of the same objects reads
 * the cache). run(): each cycle sends the FDT (TOI 0, also repeated on a timer), then every
 * object's source symbols and a fresh slice of its repair symbols, interleaved across a window of
 * objects so that a fade hurts many objects a little rather than one object a lot, paced by a
 * token bucket at the channel rate.
 */
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { mkdir, open, rename, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compactNoCode } from './fec/compact-no-code';
import { extendedSourceSymbols } from './fec/raptorq';
import type { FecScheme } from './fec/scheme';
import { fecSchemeByName, type FecSchemeName } from './fec/schemes';
import { FecWorkerPool } from './fec/worker-pool';
import type { ObjectSource } from './fec/worker-protocol';
import { buildFdt, unixToNtpSeconds, type FdtInstance } from './flute/fdt';
import { FDT_TOI } from './flute/lct';
import { FEC_RAPTORQ, type Oti } from './flute/oti';
import { encodeAlcHeader } from './flute/packet';
import {
  DEFAULT_SYMBOL_SIZE,
  MAX_OBJECT_BYTES,
  objectLength,
  repairSymbolsFor,
  type CarouselObject,
} from './objects';
import { IP_UDP_OVERHEAD, TokenBucket } from './pacer';
import type { BroadcastLogger } from './logger';

export interface Destination {
  address: string;
  port: number;
}

export interface SenderOptions {
  /** Transport Session Identifier (32 bits). */
  tsi: number;
  objects: CarouselObject[];
  /** A multicast group, or several unicast receivers (each gets every datagram). */
  destinations: Destination[];
  /** Channel rate in bit/s, IP and UDP headers included. */
  rateBitsPerSecond: number;
  /** Carousel cycles to send (each: FDT, all source symbols, a fresh repair slice). */
  cycles: number;
  /** Expected loss rate (0 .. 0.9): sets the repair symbols per cycle (objects.repairSymbolsFor). */
  expectedLoss?: number;
  /** Widens the repair margin for bursty loss (1: independent loss). */
  lossDispersion?: number;
  /** Explicit repair symbols per cycle as a fraction of K, instead of expectedLoss. */
  repairOverhead?: number;
  /** Distinct repair slices pre-generated; later cycles reuse them in turn (default: cycles, at most 16). */
  repairCycles?: number;
  fec?: FecSchemeName;
  symbolSize?: number;
  /** FDT repetition period (default 1000 ms). */
  fdtIntervalMs?: number;
  /** FDT Instance ID (20 bits); bump it when the carousel's object set changes. */
  fdtInstanceId?: number;
  /** FDT Expires, seconds from now (default: the planned carousel time plus one hour). */
  fdtExpiresSeconds?: number;
  /** Where encoded symbols are cached. */
  cacheDir: string;
  /** Objects interleaved at once (default 8). */
  interleave?: number;
  multicastTtl?: number;
  /** Local interface address for multicast (e.g. 127.0.0.1 on loopback). */
  multicastInterface?: string;
  pool?: FecWorkerPool;
  logger?: BroadcastLogger;
  signal?: AbortSignal;
}

export interface PreparedObject {
  object: CarouselObject;
  oti: Oti;
  scheme: FecScheme;
  sourceSymbols: number;
  extendedSourceSymbols: number;
  repairPerCycle: number;
  repairTotal: number;
  repairPath?: string;
  md5: string;
  sha256: string;
  /** False when the repair symbols came from the cache. */
  encoded: boolean;
  encodeMs: number;
}

export interface CycleStats {
  cycle: number;
  packets: number;
  bytes: number;
  seconds: number;
}

export interface SenderStats {
  cycles: number;
  packets: number;
  /** UDP payload bytes sent per destination. */
  bytes: number;
  /** Bytes on the channel (payload + IP/UDP headers) per destination. */
  channelBytes: number;
  fdtPackets: number;
  seconds: number;
  /** Achieved channel rate per destination. */
  bitsPerSecond: number;
  sendErrors: number;
}

const MAX_REPAIR_CYCLES = 16;

function validate(o: SenderOptions): void {
  if (!Number.isInteger(o.tsi) || o.tsi < 0 || o.tsi > 0xffffffff)
    throw new RangeError('tsi must be 32 bits');
  if (!(o.rateBitsPerSecond > 0)) throw new RangeError('rateBitsPerSecond must be positive');
  if (!Number.isInteger(o.cycles) || o.cycles < 1)
    throw new RangeError('cycles must be a positive integer');
  if (o.destinations.length === 0) throw new RangeError('no destinations');
  for (const d of o.destinations) {
    if (!isIP(d.address) || !Number.isInteger(d.port) || d.port < 1 || d.port > 65535) {
      throw new RangeError(`bad destination ${d.address}:${d.port}`);
    }
  }
  if (o.objects.length === 0) throw new RangeError('no objects');
  const tois = new Set<number>();
  const locations = new Set<string>();
  for (const obj of o.objects) {
    if (!Number.isInteger(obj.toi) || obj.toi < 1 || obj.toi > 0xffffffff)
      throw new RangeError(`bad TOI ${obj.toi}`);
    if (tois.has(obj.toi)) throw new RangeError(`TOI ${obj.toi} used twice`);
    if (locations.has(obj.contentLocation))
      throw new RangeError(`${obj.contentLocation} used twice`);
    tois.add(obj.toi);
    locations.add(obj.contentLocation);
    const len = objectLength(obj.source);
    if (len < 1 || len > MAX_OBJECT_BYTES)
      throw new RangeError(`object ${obj.toi} must be 1 .. 4 MiB`);
  }
}

async function cacheKey(
  obj: CarouselObject,
  scheme: FecScheme,
  t: number,
  repairs: number,
): Promise<string> {
  const h = createHash('sha256');
  h.update(`${scheme.id}/${t}/${repairs}/`);
  if (obj.sha256) h.update(`sha256:${obj.sha256}`);
  else if ('bytes' in obj.source) h.update(obj.source.bytes);
  else {
    const s = await stat(obj.source.path);
    h.update(
      `file:${obj.source.path}:${obj.source.offset}:${obj.source.length}:${s.size}:${s.mtimeMs}`,
    );
  }
  return h.digest('hex');
}

interface CycleData {
  prepared: PreparedObject;
  /** K*T bytes (RaptorQ: the last symbol zero-padded; Compact No-Code: exact length). */
  source: Buffer;
  repair: Buffer;
  firstRepairEsi: number;
}

async function readRegion(
  path: string,
  offset: number,
  length: number,
  into?: Buffer,
): Promise<Buffer> {
  const buf = into ?? Buffer.alloc(length);
  const fh = await open(path, 'r');
  try {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`${path} is shorter than expected`);
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return buf;
}

async function loadSource(source: ObjectSource, paddedLength: number): Promise<Buffer> {
  if ('bytes' in source) {
    const buf = Buffer.alloc(paddedLength);
    buf.set(source.bytes, 0);
    return buf;
  }
  const buf = Buffer.alloc(paddedLength);
  await readRegion(source.path, source.offset, source.length, buf);
  return buf;
}

export class CarouselSender extends EventEmitter {
  private socket?: Socket;
  private sequence = 0;
  private sendErrors = 0;
  private inFlight = 0;
  private drained?: () => void;
  private ownsPool: boolean;

  private constructor(
    private readonly options: SenderOptions,
    readonly objects: PreparedObject[],
    readonly fdt: FdtInstance,
    private readonly pool: FecWorkerPool,
    ownsPool: boolean,
  ) {
    super();
    this.ownsPool = ownsPool;
  }

  /** Validates, encodes (or reads from the cache) and builds the FDT. */
  static async prepare(options: SenderOptions): Promise<CarouselSender> {
    validate(options);
    const scheme = fecSchemeByName(options.fec ?? 'raptorq');
    const t = options.symbolSize ?? DEFAULT_SYMBOL_SIZE;
    const repairCycles = Math.max(
      1,
      Math.min(options.repairCycles ?? options.cycles, MAX_REPAIR_CYCLES),
    );
    await mkdir(options.cacheDir, { recursive: true });
    const ownsPool = !options.pool;
    const pool = options.pool ?? new FecWorkerPool();
    try {
      const prepared = await Promise.all(
        options.objects.map(async (object): Promise<PreparedObject> => {
          const length = objectLength(object.source);
          const oti = scheme.otiFor(length, t);
          const k = scheme.sourceSymbols(oti);
          let repairPerCycle = 0;
          if (scheme.repairs) {
            repairPerCycle =
              options.repairOverhead !== undefined
                ? Math.max(1, Math.ceil(k * options.repairOverhead))
                : repairSymbolsFor(k, options.expectedLoss ?? 0.05, {
                    dispersion: options.lossDispersion,
                  });
          }
          const repairTotal = repairPerCycle * repairCycles;
          const key = await cacheKey(object, scheme, t, repairTotal);
          const metaPath = join(options.cacheDir, `${key}.json`);
          const repairPath = repairTotal > 0 ? join(options.cacheDir, `${key}.repair`) : undefined;
          const cached = await readCachedMeta(metaPath, repairPath, repairTotal * t);
          let meta: { md5: string; sha256: string; encodeMs: number; encoded: boolean };
          if (cached) {
            meta = { ...cached, encodeMs: 0, encoded: false };
          } else {
            const r = await pool.run({
              type: 'encode',
              source: object.source,
              oti,
              repairCount: repairTotal,
              repairPath,
            });
            meta = { md5: r.md5, sha256: r.sha256, encodeMs: r.encodeMs, encoded: true };
            await writeCachedMeta(metaPath, { md5: r.md5, sha256: r.sha256 });
          }
          if (object.sha256 && object.sha256 !== meta.sha256) {
            throw new Error(
              `object ${object.toi} (${object.contentLocation}) does not match its sha256`,
            );
          }
          if (object.md5 && object.md5 !== meta.md5)
            throw new Error(`object ${object.toi} does not match its md5`);
          return {
            object,
            oti,
            scheme,
            sourceSymbols: k,
            extendedSourceSymbols: oti.fecEncodingId === FEC_RAPTORQ ? extendedSourceSymbols(k) : k,
            repairPerCycle,
            repairTotal,
            repairPath,
            md5: meta.md5,
            sha256: meta.sha256,
            encoded: meta.encoded,
            encodeMs: meta.encodeMs,
          };
        }),
      );
      const perCycleBytes = prepared.reduce(
        (sum, p) => sum + (p.sourceSymbols + p.repairPerCycle) * (t + 20 + IP_UDP_OVERHEAD),
        0,
      );
      const plannedSeconds = (perCycleBytes * 8 * options.cycles) / options.rateBitsPerSecond;
      const expiresIn = options.fdtExpiresSeconds ?? Math.ceil(plannedSeconds) + 3600;
      const fdt: FdtInstance = {
        expires: unixToNtpSeconds(Date.now()) + expiresIn,
        files: prepared.map((p) => ({
          toi: p.object.toi,
          contentLocation: p.object.contentLocation,
          contentLength: objectLength(p.object.source),
          contentType: p.object.contentType,
          contentMd5: p.md5,
          sha256: p.sha256,
          oti: p.oti,
          part: p.object.part,
        })),
      };
      return new CarouselSender(options, prepared, fdt, pool, ownsPool);
    } catch (e) {
      if (ownsPool) await pool.close();
      throw e;
    }
  }

  /** Bytes of one cycle on the channel, FDT excluded. */
  cycleChannelBytes(): number {
    return this.objects.reduce(
      (sum, p) => sum + this.objectPackets(p) * IP_UDP_OVERHEAD + this.objectPayloadBytes(p),
      0,
    );
  }

  private objectPackets(p: PreparedObject): number {
    return p.sourceSymbols + p.repairPerCycle;
  }

  private objectPayloadBytes(p: PreparedObject): number {
    const header = 16 + p.scheme.payloadIdLength;
    const t = p.oti.symbolSize;
    const sourceBytes = p.scheme.repairs ? p.sourceSymbols * t : objectLength(p.object.source);
    return this.objectPackets(p) * header + sourceBytes + p.repairPerCycle * t;
  }

  private async openSocket(): Promise<Socket> {
    const socket = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => {
      this.sendErrors++;
      this.options.logger?.warn({ err: err.message }, 'broadcast socket error');
    });
    try {
      socket.setSendBufferSize(4 * 1024 * 1024);
    } catch {
      // The kernel caps it at wmem_max; pacing keeps the queue short anyway.
    }
    if (this.options.multicastTtl !== undefined) socket.setMulticastTTL(this.options.multicastTtl);
    if (this.options.multicastInterface)
      socket.setMulticastInterface(this.options.multicastInterface);
    return socket;
  }

  private send(parts: Uint8Array[]): void {
    const socket = this.socket!;
    for (const d of this.options.destinations) {
      this.inFlight++;
      socket.send(parts, d.port, d.address, (err) => {
        if (err) this.sendErrors++;
        if (--this.inFlight === 0) this.drained?.();
      });
    }
  }

  /** Closing a socket drops datagrams still queued in it: wait for every send callback first. */
  private async drain(): Promise<void> {
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => (this.drained = resolve));
    this.drained = undefined;
  }

  private fdtPackets(closeSession: boolean): Uint8Array[][] {
    const bytes = buildFdt(this.fdt);
    const t = this.options.symbolSize ?? DEFAULT_SYMBOL_SIZE;
    const oti = compactNoCode.otiFor(bytes.length, t);
    const k = compactNoCode.sourceSymbols(oti);
    const packets: Uint8Array[][] = [];
    for (let esi = 0; esi < k; esi++) {
      const header = encodeAlcHeader({
        tsi: this.options.tsi,
        toi: FDT_TOI,
        sequence: this.sequence++,
        scheme: compactNoCode,
        payloadId: { sourceBlock: 0, esi },
        fdtInstanceId: this.options.fdtInstanceId ?? 1,
        oti,
        closeSession,
      });
      packets.push([header, bytes.subarray(esi * t, Math.min(bytes.length, (esi + 1) * t))]);
    }
    return packets;
  }

  private async loadCycle(p: PreparedObject, cycle: number): Promise<CycleData> {
    const t = p.oti.symbolSize;
    const length = objectLength(p.object.source);
    const padded = p.scheme.repairs ? p.sourceSymbols * t : length;
    const source = await loadSource(p.object.source, padded);
    let repair: Buffer = Buffer.alloc(0);
    let firstRepairEsi = p.sourceSymbols;
    if (p.repairPerCycle > 0 && p.repairPath) {
      const slices = p.repairTotal / p.repairPerCycle;
      const slice = cycle % slices;
      repair = await readRegion(p.repairPath, slice * p.repairPerCycle * t, p.repairPerCycle * t);
      firstRepairEsi = p.sourceSymbols + slice * p.repairPerCycle;
    }
    return { prepared: p, source, repair, firstRepairEsi };
  }

  /** Sends the planned cycles; resolves with what was sent. */
  async run(): Promise<SenderStats> {
    const o = this.options;
    this.socket = await this.openSocket();
    const bucket = new TokenBucket(o.rateBitsPerSecond);
    const fdtInterval = o.fdtIntervalMs ?? 1000;
    const started = performance.now();
    let lastFdt = -Infinity;
    const stats: SenderStats = {
      cycles: 0,
      packets: 0,
      bytes: 0,
      channelBytes: 0,
      fdtPackets: 0,
      seconds: 0,
      bitsPerSecond: 0,
      sendErrors: 0,
    };
    const pace = async (size: number): Promise<void> => {
      while (!bucket.tryTake(size + IP_UDP_OVERHEAD)) {
        const delay = bucket.delayFor(size + IP_UDP_OVERHEAD);
        await sleep(Math.max(1, delay));
      }
    };
    const emit = async (parts: Uint8Array[], isFdt: boolean): Promise<void> => {
      let size = 0;
      for (const p of parts) size += p.length;
      await pace(size);
      this.send(parts);
      stats.packets++;
      stats.bytes += size;
      stats.channelBytes += size + IP_UDP_OVERHEAD;
      if (isFdt) stats.fdtPackets++;
    };
    const sendFdt = async (closeSession: boolean): Promise<void> => {
      lastFdt = performance.now();
      for (const parts of this.fdtPackets(closeSession)) await emit(parts, true);
    };
    try {
      for (let cycle = 0; cycle < o.cycles && !o.signal?.aborted; cycle++) {
        const cycleStart = performance.now();
        const before = { packets: stats.packets, bytes: stats.channelBytes };
        await sendFdt(false);
        const lastCycle = cycle === o.cycles - 1;
        const window = Math.max(1, o.interleave ?? 8);
        const queue = [...this.objects];
        const loading: Promise<CycleData>[] = [];
        const refill = (): void => {
          while (loading.length < window + 2 && queue.length > 0) {
            loading.push(this.loadCycle(queue.shift()!, cycle));
          }
        };
        refill();
        const active: { data: CycleData; next: number; total: number }[] = [];
        const admit = async (): Promise<void> => {
          while (active.length < window && loading.length > 0) {
            const data = await loading.shift()!;
            active.push({
              data,
              next: 0,
              total: data.prepared.sourceSymbols + data.prepared.repairPerCycle,
            });
            refill();
          }
        };
        await admit();
        let turn = 0;
        while (active.length > 0 && !o.signal?.aborted) {
          if (performance.now() - lastFdt >= fdtInterval) await sendFdt(false);
          turn %= active.length;
          const entry = active[turn];
          const { prepared: p, source, repair, firstRepairEsi } = entry.data;
          const t = p.oti.symbolSize;
          const i = entry.next++;
          let esi: number;
          let symbol: Uint8Array;
          if (i < p.sourceSymbols) {
            esi = i;
            symbol = source.subarray(i * t, Math.min(source.length, (i + 1) * t));
          } else {
            const j = i - p.sourceSymbols;
            esi = firstRepairEsi + j;
            symbol = repair.subarray(j * t, (j + 1) * t);
          }
          const header = encodeAlcHeader({
            tsi: o.tsi,
            toi: p.object.toi,
            sequence: this.sequence++,
            scheme: p.scheme,
            payloadId: { sourceBlock: 0, esi },
            closeObject: lastCycle && entry.next === entry.total,
          });
          await emit([header, symbol], false);
          if (entry.next >= entry.total) {
            active.splice(turn, 1);
            await admit();
          } else {
            turn++;
          }
        }
        const cycleStats: CycleStats = {
          cycle,
          packets: stats.packets - before.packets,
          bytes: stats.channelBytes - before.bytes,
          seconds: (performance.now() - cycleStart) / 1000,
        };
        stats.cycles++;
        this.emit('cycle', cycleStats);
        o.logger?.info(cycleStats, 'broadcast cycle sent');
      }
      await sendFdt(true);
    } finally {
      stats.seconds = (performance.now() - started) / 1000;
      stats.bitsPerSecond = stats.seconds > 0 ? (stats.channelBytes * 8) / stats.seconds : 0;
      await this.drain();
      await new Promise<void>((resolve) => this.socket!.close(() => resolve()));
      this.socket = undefined;
      stats.sendErrors = this.sendErrors;
    }
    return stats;
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.close();
  }
}

async function readCachedMeta(
  metaPath: string,
  repairPath: string | undefined,
  repairBytes: number,
): Promise<{ md5: string; sha256: string } | undefined> {
  try {
    const fh = await open(metaPath, 'r');
    let text: string;
    try {
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
    const meta = JSON.parse(text) as { md5?: unknown; sha256?: unknown };
    if (typeof meta.md5 !== 'string' || typeof meta.sha256 !== 'string') return undefined;
    if (repairPath && (await stat(repairPath)).size !== repairBytes) return undefined;
    return { md5: meta.md5, sha256: meta.sha256 };
  } catch {
    return undefined;
  }
}

async function writeCachedMeta(
  metaPath: string,
  meta: { md5: string; sha256: string },
): Promise<void> {
  const tmp = `${metaPath}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(meta));
  await rename(tmp, metaPath);
}

/** prepare + run + close in one call. */
export async function sendCarousel(
  options: SenderOptions,
): Promise<SenderStats & { objects: PreparedObject[] }> {
  const sender = await CarouselSender.prepare(options);
  try {
    const stats = await sender.run();
    return { ...stats, objects: sender.objects };
  } finally {
    await sender.close();
  }
}
