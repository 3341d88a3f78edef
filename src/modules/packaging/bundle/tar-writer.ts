import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { AppError } from '../../../common/errors/app-error';

/**
 * A deterministic POSIX (pax/ustar) tar writer: every header field that could vary between
 * builds is fixed (mtime 0, uid/gid 0, no user or group names, mode 0644), so the same members
 * in the same order always give the same bytes, and a retried build yields the same bundle.
 * Members are streamed through with backpressure; no file is ever held in memory.
 */
const BLOCK = 512;
const NAME_FIELD = 100;
/** The ustar size field holds 11 octal digits; bigger members need a pax `size` record. */
const MAX_USTAR_SIZE = 0o77777777777;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

export class TarWriter {
  private busy = false;
  private finished = false;
  /** Set when a member fails half-written: the archive is corrupt, so nothing may follow. */
  private broken = false;
  private paxCount = 0;
  private written = 0;
  private outputError: Error | undefined;

  constructor(private readonly out: Writable) {
    // Kept, not thrown: an unhandled 'error' event would crash the process between writes.
    out.on('error', (err) => {
      this.outputError ??= err;
    });
  }

  /** Bytes handed to the output so far (the archive's size once finish() resolves). */
  get bytesWritten(): number {
    return this.written;
  }

  /**
   * Appends a regular file of exactly `size` bytes read from `source`.
   * @throws when the source fails or yields more or fewer bytes than `size`; the archive is then
   *   unusable and the caller discards it.
   */
  async addFile(name: string, size: number, source: Readable): Promise<void> {
    this.begin(name);
    try {
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new AppError('internal_error', `tar member ${name}: invalid size ${size}`);
      }
      await this.writeHeaders(name, size);
      let copied = 0;
      for await (const chunk of source as AsyncIterable<Buffer | string>) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        copied += buf.length;
        if (copied > size) {
          throw new AppError('internal_error', `tar member ${name}: source exceeds ${size} bytes`);
        }
        await this.write(buf);
      }
      if (copied !== size) {
        throw new AppError(
          'internal_error',
          `tar member ${name}: source ended after ${copied} of ${size} bytes`,
        );
      }
      await this.pad(size);
    } catch (err) {
      this.broken = true;
      throw err;
    } finally {
      source.destroy();
      this.busy = false;
    }
  }

  async addBuffer(name: string, buf: Buffer): Promise<void> {
    this.begin(name);
    try {
      await this.writeHeaders(name, buf.length);
      await this.write(buf);
      await this.pad(buf.length);
    } catch (err) {
      this.broken = true;
      throw err;
    } finally {
      this.busy = false;
    }
  }

  /** Writes the two zero end-of-archive blocks, ends the output and waits until it has flushed. */
  async finish(): Promise<void> {
    if (this.busy || this.finished || this.broken) {
      throw new AppError('internal_error', 'tar writer: finish() while busy, finished or broken');
    }
    this.finished = true;
    await this.write(Buffer.concat([ZERO_BLOCK, ZERO_BLOCK]));
    this.out.end();
    await finished(this.out, { readable: false });
  }

  private begin(name: string): void {
    if (this.busy || this.finished || this.broken) {
      // Interleaved members would corrupt the archive: callers add them one at a time.
      throw new AppError(
        'internal_error',
        `tar writer: cannot add ${name} now (busy, finished or broken)`,
      );
    }
    checkMemberName(name);
    this.busy = true;
  }

  private async writeHeaders(name: string, size: number): Promise<void> {
    const nameBytes = Buffer.from(name, 'utf8');
    const records: [string, string][] = [];
    if (nameBytes.length > NAME_FIELD) records.push(['path', name]);
    if (size > MAX_USTAR_SIZE) records.push(['size', String(size)]);
    if (records.length > 0) {
      // A counter, not a pid or time as GNU tar uses: the pax header's own name must be stable.
      this.paxCount += 1;
      const body = Buffer.concat(records.map(([key, value]) => paxRecord(key, value)));
      await this.write(ustarHeader(`PaxHeader/${this.paxCount}`, body.length, 'x'));
      await this.write(body);
      await this.pad(body.length);
    }
    await this.write(ustarHeader(truncateUtf8(nameBytes, NAME_FIELD), size, '0'));
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest !== 0) await this.write(ZERO_BLOCK.subarray(0, BLOCK - rest));
  }

  /** Honours backpressure; an output error (disk full) rejects the pending and later writes. */
  private async write(buf: Buffer): Promise<void> {
    this.checkOutput();
    if (buf.length === 0) return;
    this.written += buf.length;
    if (!this.out.write(buf)) await this.drained();
  }

  private checkOutput(): void {
    const error = this.outputProblem();
    if (error) throw error;
  }

  private outputProblem(): Error | undefined {
    if (this.outputError) return this.outputError;
    if (this.out.destroyed) return new AppError('internal_error', 'tar writer: output closed');
    return undefined;
  }

  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        this.out.off('drain', settle);
        this.out.off('error', settle);
        this.out.off('close', settle);
        const error = this.outputProblem();
        if (error) reject(error);
        else resolve();
      };
      this.out.on('drain', settle);
      this.out.on('error', settle);
      this.out.on('close', settle);
    });
  }
}

/** Relative, normalised names only: a bundle must never write outside the directory it unpacks to. */
function checkMemberName(name: string): void {
  const parts = name.split('/');
  if (
    name === '' ||
    name.includes('\0') ||
    name.includes('\\') ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  ) {
    throw new AppError('invalid_path', `invalid tar member name: ${JSON.stringify(name)}`);
  }
}

/** "<length> <key>=<value>\n", where the length counts its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const payload = ` ${key}=${value}\n`;
  const payloadBytes = Buffer.byteLength(payload, 'utf8');
  let length = payloadBytes + 1;
  while (String(length).length + payloadBytes !== length) length += 1;
  return Buffer.from(`${length}${payload}`, 'utf8');
}

/** One 512-byte ustar header; a size beyond the field's range is carried by a pax record. */
function ustarHeader(name: Buffer | string, size: number, typeflag: '0' | 'x'): Buffer {
  const header = Buffer.alloc(BLOCK);
  const nameBytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  nameBytes.copy(header, 0, 0, NAME_FIELD);
  octal(header, 100, 8, 0o644);
  octal(header, 108, 8, 0); // uid
  octal(header, 116, 8, 0); // gid
  octal(header, 124, 12, size <= MAX_USTAR_SIZE ? size : 0);
  octal(header, 136, 12, 0); // mtime: none, so a rebuild is byte-identical
  header.write(typeflag, 156, 'latin1');
  header.write('ustar\0', 257, 'latin1');
  header.write('00', 263, 'latin1');
  octal(header, 329, 8, 0); // devmajor
  octal(header, 337, 8, 0); // devminor
  // The checksum is computed with its own field read as eight spaces.
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return header;
}

/** A zero-padded octal number filling the field, NUL-terminated. */
function octal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, 'latin1');
}

/** The ustar name of a member whose full name lives in a pax record: a fallback for old readers. */
function truncateUtf8(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = max;
  // Do not cut a multi-byte character in half (continuation bytes are 10xxxxxx).
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}
