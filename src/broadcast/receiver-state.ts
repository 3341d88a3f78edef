/**
 * What a receiver keeps on disk, so a restart (or a receiver that starts mid-carousel and is
 * stopped) picks up where it was instead of starting over:
 *   <stateDir>/tsi-<tsi>/fdt/<instance>.xml   complete FDT instances
 *   <stateDir>/tsi-<tsi>/symbols/<key>.log    received symbols (u32 ESI, u32 length, bytes)
 *   <stateDir>/tsi-<tsi>/objects/<key>        decoded and verified objects
 *   <stateDir>/tsi-<tsi>/files/<sha256>       reassembled files
 *   <stateDir>/tsi-<tsi>/completed.jsonl      files already handed over
 */
import {
  appendFile,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';

export interface CompletedFile {
  key: string;
  contentLocation: string;
  contentType?: string;
  length: number;
  sha256?: string;
}

export class ReceiverState {
  readonly dir: string;
  private readonly pending = new Map<string, Buffer[]>();
  private readonly writing = new Map<string, Promise<void>>();

  constructor(stateDir: string, tsi: number) {
    this.dir = join(stateDir, `tsi-${tsi}`);
  }

  async init(): Promise<void> {
    for (const sub of ['fdt', 'symbols', 'objects', 'files'])
      await mkdir(join(this.dir, sub), { recursive: true });
  }

  symbolLog(key: string): string {
    return join(this.dir, 'symbols', `${key}.log`);
  }
  objectPath(key: string): string {
    return join(this.dir, 'objects', key);
  }
  filePath(key: string): string {
    return join(this.dir, 'files', key);
  }

  async saveFdt(instanceId: number, bytes: Uint8Array): Promise<void> {
    const path = join(this.dir, 'fdt', `${instanceId}.xml`);
    await writeFile(`${path}.tmp`, bytes);
    await rename(`${path}.tmp`, path);
  }

  async loadFdts(): Promise<{ instanceId: number; bytes: Buffer }[]> {
    const names = (await readdir(join(this.dir, 'fdt'))).filter((n) => /^\d+\.xml$/.test(n));
    const out: { instanceId: number; bytes: Buffer }[] = [];
    for (const n of names)
      out.push({
        instanceId: Number(n.slice(0, -4)),
        bytes: await readFile(join(this.dir, 'fdt', n)),
      });
    return out.sort((a, b) => a.instanceId - b.instanceId);
  }

  /** Queues one symbol record; flush() writes the queue. */
  record(key: string, esi: number, symbol: Uint8Array): void {
    const rec = Buffer.allocUnsafe(8 + symbol.length);
    rec.writeUInt32BE(esi, 0);
    rec.writeUInt32BE(symbol.length, 4);
    rec.set(symbol, 8);
    let list = this.pending.get(key);
    if (!list) this.pending.set(key, (list = []));
    list.push(rec);
  }

  /** Appends the queued records of one object (or of all) to their logs, in order. */
  flush(key?: string): Promise<void> {
    const keys = key ? [key] : [...this.pending.keys()];
    return Promise.all(
      keys.map((k) => {
        const list = this.pending.get(k);
        this.pending.delete(k);
        const previous = this.writing.get(k) ?? Promise.resolve();
        const next =
          list && list.length > 0
            ? previous.then(() => appendFile(this.symbolLog(k), Buffer.concat(list)))
            : previous;
        this.writing.set(k, next);
        return next.finally(() => {
          if (this.writing.get(k) === next) this.writing.delete(k);
        });
      }),
    ).then(() => undefined);
  }

  /** ESIs already in an object's log (torn last record ignored). */
  async loggedEsis(key: string): Promise<number[]> {
    let buf: Buffer;
    try {
      buf = await readFile(this.symbolLog(key));
    } catch {
      return [];
    }
    return recordEsis(buf);
  }

  /** Bytes in an object's log once everything queued so far is written. */
  async logBytes(key: string): Promise<number> {
    await this.flush(key);
    try {
      return (await stat(this.symbolLog(key))).size;
    } catch {
      return 0;
    }
  }

  async dropSymbols(key: string): Promise<void> {
    this.pending.delete(key);
    await (this.writing.get(key) ?? Promise.resolve()).catch(() => undefined);
    await rm(this.symbolLog(key), { force: true });
  }

  async dropObject(key: string): Promise<void> {
    await rm(this.objectPath(key), { force: true });
  }

  async markCompleted(file: CompletedFile): Promise<void> {
    await appendFile(join(this.dir, 'completed.jsonl'), `${JSON.stringify(file)}\n`);
  }

  async completed(): Promise<Map<string, CompletedFile>> {
    const out = new Map<string, CompletedFile>();
    let text = '';
    try {
      text = await readFile(join(this.dir, 'completed.jsonl'), 'utf8');
    } catch {
      return out;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const f = JSON.parse(line) as CompletedFile;
        if (typeof f.key === 'string') out.set(f.key, f);
      } catch {
        // A torn last line after a crash: that file is simply received again.
      }
    }
    return out;
  }
}

/** ESIs of the whole records in a symbol log (a torn last record is ignored). */
function recordEsis(buf: Buffer): number[] {
  const esis: number[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const len = buf.readUInt32BE(at + 4);
    if (at + 8 + len > buf.length) break;
    esis.push(buf.readUInt32BE(at));
    at += 8 + len;
  }
  return esis;
}
