/**
 * The FLUTE receiver: listens on a UDP port (optionally joining a multicast group), keeps what
 * belongs to its session, collects symbols per object, decodes each object in a worker thread as
 * soon as enough symbols arrived, verifies it (Content-MD5, SHA-256), puts multi-part files back
 * together and emits them. Everything else is counted and dropped: datagrams that do not parse,
 * another session's, objects no FDT lists or the caller refuses, symbols that do not fit.
 */
import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { rename, stat } from 'node:fs/promises';
import { compactNoCode } from './fec/compact-no-code';
import type { FecScheme } from './fec/scheme';
import { fecSchemeById } from './fec/schemes';
import { FecWorkerPool } from './fec/worker-pool';
import { parseFdt, type FdtFile, type FdtInstance } from './flute/fdt';
import { FDT_TOI } from './flute/lct';
import { FEC_COMPACT_NO_CODE, sameOti, type Oti } from './flute/oti';
import { AlcParseError, parseAlcPacket, type AlcPacket } from './flute/packet';
import type { BroadcastLogger } from './logger';
import type { LossModel } from './loss-model';
import { ReceiverState, type CompletedFile } from './receiver-state';

export interface ReceiverOptions {
  tsi: number;
  port: number;
  /** Local address to bind (default 0.0.0.0). */
  address?: string;
  /** Multicast group to join, and the local interface to join it on. */
  group?: string;
  groupInterface?: string;
  stateDir: string;
  /** SO_RCVBUF (default 4 MiB; the kernel caps it at net.core.rmem_max). */
  recvBufferBytes?: number;
  /** Drops datagrams in user space before anything looks at them (tests, benches). */
  lossModel?: LossModel;
  /**
   * Bytes of symbols kept for TOIs no FDT has announced yet (default 32 MiB): a receiver that
   * starts mid-carousel keeps what arrives before the next FDT, and drops it if the FDT does not
   * list the object.
   */
  unannouncedBufferBytes?: number;
  /** Objects the caller wants; the rest of the FDT is ignored (default: all). */
  acceptObject?: (file: FdtFile) => boolean;
  pool?: FecWorkerPool;
  logger?: BroadcastLogger;
}

export interface ReceivedObject {
  toi: number;
  contentLocation: string;
  length: number;
  md5?: string;
  sha256?: string;
  /** Symbols that had arrived when it decoded, and K. */
  symbols: number;
  sourceSymbols: number;
  /** Whether FEC decoding was needed (false: every source symbol arrived). */
  fecDecoded: boolean;
}

export interface ReceivedFile {
  contentLocation: string;
  contentType?: string;
  length: number;
  sha256?: string;
  /** The reassembled, verified file inside the state dir; move or copy it away. */
  path: string;
  /** True when it completed before this receiver started (re-announced after a restart). */
  restored: boolean;
}

export interface ReceiverStats {
  /** Datagrams that reached the engine (after the loss model). */
  received: number;
  droppedByModel: number;
  /** Datagrams of this session missing from the sender's sequence (CCI), model drops included. */
  lost: number;
  lossRate: number;
  malformed: number;
  wrongSession: number;
  unknownObject: number;
  refusedObject: number;
  duplicate: number;
  badSymbol: number;
  fdtInstances: number;
  objectsDecoded: number;
  fecDecodes: number;
  corruptObjects: number;
  filesCompleted: number;
}

export interface ObjectProgress {
  toi: number;
  contentLocation: string;
  fileLocation: string;
  symbols: number;
  sourceSymbols: number;
  state: ObjectState['state'];
}

export interface MissingFile {
  contentLocation: string;
  sha256?: string;
  length: number;
  objects: ObjectProgress[];
}

interface ObjectState {
  file: FdtFile;
  key: string;
  fileKey: string;
  oti?: Oti;
  scheme?: FecScheme;
  k: number;
  esis: Set<number>;
  state: 'collecting' | 'decoding' | 'done' | 'unsupported' | 'refused';
  nextAttemptAt: number;
}

interface FileState {
  key: string;
  contentLocation: string;
  contentType?: string;
  length: number;
  sha256?: string;
  parts: (ObjectState | undefined)[];
  state: 'collecting' | 'assembling' | 'done';
}

function objectKey(f: FdtFile): string {
  const id = f.contentMd5
    ? Buffer.from(f.contentMd5, 'base64').toString('hex')
    : (f.sha256 ?? `len${f.contentLength}`);
  return `${f.toi}-${id}`;
}

function fileKeyOf(f: FdtFile): string {
  if (f.part) return f.part.fileSha256;
  return f.sha256 ?? objectKey(f);
}

export class FluteReceiver extends EventEmitter {
  private socket?: Socket;
  private readonly state: ReceiverState;
  private readonly objects = new Map<number, ObjectState>();
  private readonly files = new Map<string, FileState>();
  private readonly fdtBuffers = new Map<number, { oti: Oti; symbols: Map<number, Uint8Array> }>();
  private readonly fdtSeen = new Set<number>();
  private completedFiles = new Map<string, CompletedFile>();
  private readonly unannounced = new Map<number, AlcPacket[]>();
  private unannouncedBytes = 0;
  private readonly restoredFiles: ReceivedFile[] = [];
  private lastSequence?: number;
  private flushTimer?: NodeJS.Timeout;
  private sessionClosed = false;
  private closed = false;
  private readonly pool: FecWorkerPool;
  private readonly ownsPool: boolean;
  private readonly work = new Set<Promise<void>>();
  private readonly counters: Omit<ReceiverStats, 'lossRate'> = {
    received: 0,
    droppedByModel: 0,
    lost: 0,
    malformed: 0,
    wrongSession: 0,
    unknownObject: 0,
    refusedObject: 0,
    duplicate: 0,
    badSymbol: 0,
    fdtInstances: 0,
    objectsDecoded: 0,
    fecDecodes: 0,
    corruptObjects: 0,
    filesCompleted: 0,
  };

  private constructor(private readonly options: ReceiverOptions) {
    super();
    this.state = new ReceiverState(options.stateDir, options.tsi);
    this.ownsPool = !options.pool;
    this.pool = options.pool ?? new FecWorkerPool();
  }

  /** Restores the state dir, then listens. Files completed before are re-emitted (restored). */
  static async start(options: ReceiverOptions, listen = true): Promise<FluteReceiver> {
    if (!Number.isInteger(options.tsi) || options.tsi < 0 || options.tsi > 0xffffffff)
      throw new RangeError('bad tsi');
    const r = new FluteReceiver(options);
    await r.restore();
    if (listen) await r.listen();
    // After the caller's continuation has attached its listeners.
    setImmediate(() => {
      for (const f of r.restoredFiles.splice(0)) r.emit('file', f);
      if (r.isComplete()) r.emit('complete');
    });
    return r;
  }

  get stateDir(): string {
    return this.state.dir;
  }

  private async restore(): Promise<void> {
    await this.state.init();
    this.completedFiles = await this.state.completed();
    for (const { instanceId, bytes } of await this.state.loadFdts()) {
      try {
        this.applyFdt(instanceId, parseFdt(bytes));
      } catch {
        // A damaged saved FDT is received again from the air.
      }
    }
    for (const obj of this.objects.values()) {
      if (obj.state !== 'collecting') continue;
      if (await exists(this.state.objectPath(obj.key))) {
        obj.state = 'done';
        continue;
      }
      for (const esi of await this.state.loggedEsis(obj.key)) obj.esis.add(esi);
      this.maybeDecode(obj);
    }
    for (const file of this.files.values()) this.maybeAssemble(file);
    for (const done of this.completedFiles.values()) {
      const path = this.state.filePath(done.key);
      if (await exists(path)) this.restoredFiles.push({ ...done, path, restored: true });
    }
  }

  private async listen(): Promise<void> {
    const o = this.options;
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(o.port, o.address ?? '0.0.0.0', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const want = o.recvBufferBytes ?? 4 * 1024 * 1024;
    socket.setRecvBufferSize(want);
    // Linux reports twice the value set; less than asked means net.core.rmem_max capped it.
    if (socket.getRecvBufferSize() < want) {
      o.logger?.warn(
        { want, got: socket.getRecvBufferSize() },
        'receive buffer capped by net.core.rmem_max',
      );
    }
    if (o.group) socket.addMembership(o.group, o.groupInterface);
    socket.on('message', (msg) => this.ingest(msg));
    socket.on('error', (err) =>
      o.logger?.warn({ err: err.message }, 'broadcast receive socket error'),
    );
    this.socket = socket;
  }

  /** Receive buffer the kernel granted (bytes, as Linux reports it). */
  recvBufferSize(): number {
    return this.socket?.getRecvBufferSize() ?? 0;
  }

  /** Handles one datagram as if it came from the socket (the loss model applies). */
  ingest(datagram: Uint8Array): void {
    if (this.closed) return;
    if (this.options.lossModel?.drop()) {
      this.counters.droppedByModel++;
      return;
    }
    let packet: AlcPacket;
    try {
      packet = parseAlcPacket(datagram);
    } catch (e) {
      if (!(e instanceof AlcParseError)) throw e;
      this.counters.malformed++;
      return;
    }
    if (packet.lct.tsi !== this.options.tsi) {
      this.counters.wrongSession++;
      return;
    }
    this.counters.received++;
    this.trackSequence(packet.lct.cci);
    if (packet.lct.toi === FDT_TOI) this.onFdtPacket(packet);
    else this.onObjectPacket(packet);
    if (packet.lct.closeSession && !this.sessionClosed) {
      this.sessionClosed = true;
      setImmediate(() => this.emit('session-closed'));
    }
  }

  private trackSequence(seq: number): void {
    if (this.lastSequence === undefined) {
      this.lastSequence = seq;
      return;
    }
    const gap = (seq - this.lastSequence - 1) >>> 0;
    if (gap < 0x80000000) {
      this.counters.lost += gap;
      this.lastSequence = seq;
    } else if (this.counters.lost > 0) {
      this.counters.lost--; // a late datagram that was counted as lost
    }
  }

  private onFdtPacket(p: AlcPacket): void {
    const id = p.fdt!.instanceId;
    const oti = p.oti!;
    if (
      oti.fecEncodingId !== FEC_COMPACT_NO_CODE ||
      p.payloadId.sourceBlock !== 0 ||
      compactNoCode.unsupported(oti)
    ) {
      this.counters.badSymbol++;
      return;
    }
    if (this.fdtSeen.has(id)) {
      this.counters.duplicate++;
      // The FDT came round again and still does not list them: drop held unknown objects.
      if (p.payloadId.esi === 0) this.releaseUnannounced();
      return;
    }
    let buf = this.fdtBuffers.get(id);
    if (buf && !sameOti(buf.oti, oti)) buf = undefined; // the sender reused the id for a new FDT
    if (!buf) this.fdtBuffers.set(id, (buf = { oti, symbols: new Map() }));
    const k = compactNoCode.sourceSymbols(oti);
    const esi = p.payloadId.esi;
    if (esi >= k || p.symbol.length !== compactNoCode.symbolLength(oti, esi)) {
      this.counters.badSymbol++;
      return;
    }
    if (buf.symbols.has(esi)) {
      this.counters.duplicate++;
      return;
    }
    buf.symbols.set(esi, Buffer.from(p.symbol));
    if (buf.symbols.size < k) return;
    const bytes = Buffer.concat([...Array(k).keys()].map((i) => buf.symbols.get(i)!));
    this.fdtBuffers.delete(id);
    let fdt: FdtInstance;
    try {
      fdt = parseFdt(bytes);
    } catch (e) {
      this.counters.malformed++;
      this.options.logger?.warn(
        { err: (e as Error).message, instanceId: id },
        'FDT instance refused',
      );
      return;
    }
    this.fdtSeen.add(id);
    this.counters.fdtInstances++;
    this.track(this.state.saveFdt(id, bytes));
    this.applyFdt(id, fdt);
    this.releaseUnannounced();
    this.emit('fdt', fdt);
  }

  private applyFdt(instanceId: number, fdt: FdtInstance): void {
    this.fdtSeen.add(instanceId);
    for (const f of fdt.files) {
      const existing = this.objects.get(f.toi);
      const key = objectKey(f);
      if (existing && existing.key === key) continue;
      if (existing && existing.state === 'done') continue;
      const fileKey = fileKeyOf(f);
      const obj: ObjectState = {
        file: f,
        key,
        fileKey,
        k: 0,
        esis: new Set(),
        state: 'collecting',
        nextAttemptAt: 0,
      };
      if (this.options.acceptObject && !this.options.acceptObject(f)) obj.state = 'refused';
      else if (this.completedFiles.has(fileKey)) obj.state = 'done';
      else if (f.oti) this.setOti(obj, f.oti);
      this.objects.set(f.toi, obj);
      if (obj.state === 'refused') continue;
      let file = this.files.get(fileKey);
      if (!file) {
        file = {
          key: fileKey,
          contentLocation: f.part?.fileLocation ?? f.contentLocation,
          contentType: f.contentType,
          length: f.part?.fileLength ?? f.contentLength,
          sha256: f.part?.fileSha256 ?? f.sha256,
          parts: Array<ObjectState | undefined>(f.part?.count ?? 1).fill(undefined),
          state: this.completedFiles.has(fileKey) ? 'done' : 'collecting',
        };
        this.files.set(fileKey, file);
      }
      const index = f.part?.index ?? 0;
      if (index < file.parts.length) file.parts[index] = obj;
    }
  }

  private holdUnannounced(p: AlcPacket): void {
    const cap = this.options.unannouncedBufferBytes ?? 32 * 1024 * 1024;
    if (this.unannouncedBytes + p.symbol.length > cap) {
      this.counters.unknownObject++;
      return;
    }
    let list = this.unannounced.get(p.lct.toi);
    if (!list) this.unannounced.set(p.lct.toi, (list = []));
    list.push(p);
    this.unannouncedBytes += p.symbol.length;
  }

  /** After an FDT: symbols of objects it lists are used, those of objects no FDT lists dropped. */
  private releaseUnannounced(): void {
    const held = [...this.unannounced.entries()];
    this.unannounced.clear();
    this.unannouncedBytes = 0;
    for (const [toi, packets] of held) {
      if (this.objects.has(toi)) for (const p of packets) this.onObjectPacket(p);
      else this.counters.unknownObject += packets.length;
    }
  }

  private setOti(obj: ObjectState, oti: Oti): void {
    const scheme = fecSchemeById(oti.fecEncodingId);
    if (!scheme || scheme.unsupported(oti) || oti.transferLength !== obj.file.contentLength) {
      obj.state = 'unsupported';
      return;
    }
    obj.oti = oti;
    obj.scheme = scheme;
    obj.k = scheme.sourceSymbols(oti);
    obj.nextAttemptAt = obj.k;
  }

  private onObjectPacket(p: AlcPacket): void {
    const obj = this.objects.get(p.lct.toi);
    if (!obj) {
      this.holdUnannounced(p);
      return;
    }
    if (obj.state === 'refused') {
      this.counters.refusedObject++;
      return;
    }
    if (!obj.oti && p.oti && obj.state === 'collecting') this.setOti(obj, p.oti);
    if (obj.state !== 'collecting' && obj.state !== 'decoding') {
      this.counters.duplicate++;
      return;
    }
    const { oti, scheme } = obj;
    if (!oti || !scheme) {
      this.counters.unknownObject++;
      return;
    }
    const esi = p.payloadId.esi;
    if (
      p.scheme.id !== scheme.id ||
      p.payloadId.sourceBlock !== 0 ||
      (esi >= obj.k && esi > scheme.maxRepairEsi(oti)) ||
      p.symbol.length !== scheme.symbolLength(oti, esi)
    ) {
      this.counters.badSymbol++;
      return;
    }
    if (obj.esis.has(esi)) {
      this.counters.duplicate++;
      return;
    }
    obj.esis.add(esi);
    this.state.record(obj.key, esi, p.symbol);
    this.scheduleFlush();
    this.maybeDecode(obj);
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.track(this.state.flush());
    }, 50);
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: Error) =>
      this.options.logger?.error({ err: err.message }, 'broadcast receiver I/O failed'),
    );
    this.work.add(tracked);
    void tracked.finally(() => this.work.delete(tracked));
  }

  private maybeDecode(obj: ObjectState): void {
    if (obj.state !== 'collecting' || !obj.oti || obj.esis.size < obj.nextAttemptAt) return;
    obj.state = 'decoding';
    this.track(this.decode(obj));
  }

  private async decode(obj: ObjectState): Promise<void> {
    const logBytes = await this.state.logBytes(obj.key);
    const result = await this.pool.run({
      type: 'decode',
      logBytes,
      oti: obj.oti!,
      symbolLog: this.state.symbolLog(obj.key),
      outPath: this.state.objectPath(obj.key),
      md5: obj.file.contentMd5,
      sha256: obj.file.sha256,
    });
    if (this.closed) return;
    switch (result.status) {
      case 'decoded': {
        obj.state = 'done';
        this.counters.objectsDecoded++;
        if (result.decoded) this.counters.fecDecodes++;
        await this.state.dropSymbols(obj.key);
        const received: ReceivedObject = {
          toi: obj.file.toi,
          contentLocation: obj.file.contentLocation,
          length: obj.file.contentLength,
          md5: obj.file.contentMd5,
          sha256: obj.file.sha256,
          symbols: result.symbols,
          sourceSymbols: obj.k,
          fecDecoded: result.decoded,
        };
        this.emit('object', received);
        const file = this.files.get(obj.fileKey);
        if (file) this.maybeAssemble(file);
        return;
      }
      case 'insufficient':
        obj.state = 'collecting';
        obj.nextAttemptAt = Math.max(obj.esis.size, result.symbols) + 2;
        this.maybeDecode(obj);
        return;
      case 'corrupt':
        // A forged or damaged symbol got in, and nothing says which: start this object over
        // with what arrives from now on (the next cycle brings every symbol again).
        this.counters.corruptObjects++;
        this.options.logger?.warn(
          { toi: obj.file.toi },
          'decoded object failed its checksum; collecting again',
        );
        obj.esis.clear();
        await this.state.dropSymbols(obj.key);
        obj.state = 'collecting';
        obj.nextAttemptAt = obj.k;
        return;
    }
  }

  private maybeAssemble(file: FileState): void {
    if (file.state !== 'collecting') return;
    if (!file.parts.every((p) => p?.state === 'done')) return;
    file.state = 'assembling';
    this.track(this.assemble(file));
  }

  private async assemble(file: FileState): Promise<void> {
    const parts = file.parts as ObjectState[];
    const out = this.state.filePath(file.key);
    if (parts.length === 1 && (!file.sha256 || parts[0].file.sha256 === file.sha256)) {
      await rename(this.state.objectPath(parts[0].key), out);
    } else {
      const result = await this.pool.run({
        type: 'assemble',
        parts: parts.map((p) => this.state.objectPath(p.key)),
        outPath: out,
        length: file.length,
        sha256: file.sha256 ?? '',
      });
      if (result.status !== 'ok') {
        this.counters.corruptObjects++;
        for (const p of parts) {
          await this.state.dropObject(p.key);
          p.state = 'collecting';
          p.esis.clear();
          p.nextAttemptAt = p.k;
        }
        file.state = 'collecting';
        return;
      }
      for (const p of parts) await this.state.dropObject(p.key);
    }
    if (this.closed) return;
    this.counters.filesCompleted++;
    const done: CompletedFile = {
      key: file.key,
      contentLocation: file.contentLocation,
      contentType: file.contentType,
      length: file.length,
      sha256: file.sha256,
    };
    this.completedFiles.set(file.key, done);
    await this.state.markCompleted(done);
    // Done only now, so isComplete() never runs ahead of the 'file' events.
    file.state = 'done';
    const received: ReceivedFile = { ...done, path: out, restored: false };
    this.emit('file', received);
    if (this.isComplete()) this.emit('complete');
  }

  /** Every file the received FDTs list (and the caller accepts) has been received. */
  isComplete(): boolean {
    if (this.fdtSeen.size === 0) return false;
    for (const f of this.files.values()) if (f.state !== 'done') return false;
    return true;
  }

  /** Resolves true once complete, false when timeoutMs passes first. */
  waitUntilComplete(timeoutMs: number): Promise<boolean> {
    if (this.isComplete()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.off('complete', done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.once('complete', done);
    });
  }

  private progress(obj: ObjectState): ObjectProgress {
    return {
      toi: obj.file.toi,
      contentLocation: obj.file.contentLocation,
      fileLocation: obj.file.part?.fileLocation ?? obj.file.contentLocation,
      symbols: obj.esis.size,
      sourceSymbols: obj.k,
      state: obj.state,
    };
  }

  objectProgress(): ObjectProgress[] {
    return [...this.objects.values()].map((o) => this.progress(o));
  }

  /** Files not (yet) received, with each object's progress: what unicast repair must fetch. */
  missing(): MissingFile[] {
    const out: MissingFile[] = [];
    for (const f of this.files.values()) {
      if (f.state === 'done') continue;
      out.push({
        contentLocation: f.contentLocation,
        sha256: f.sha256,
        length: f.length,
        objects: f.parts
          .filter((p): p is ObjectState => !!p && p.state !== 'done')
          .map((p) => this.progress(p)),
      });
    }
    return out;
  }

  stats(): ReceiverStats {
    const c = this.counters;
    const seen = c.received + c.lost;
    return { ...c, lossRate: seen > 0 ? c.lost / seen : 0 };
  }

  /** Stops listening, writes what is queued, waits for running decodes, frees the workers. */
  async close(): Promise<void> {
    if (this.socket) {
      const s = this.socket;
      this.socket = undefined;
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.state.flush();
    while (this.work.size > 0) await Promise.all([...this.work]);
    this.closed = true;
    if (this.ownsPool) await this.pool.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
