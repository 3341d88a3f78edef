import type { FileHandle } from 'node:fs/promises';

/**
 * Lists the members of a POSIX (ustar + pax) tar on disk without reading their data, so members
 * can be streamed straight from the file. Only regular files are accepted: a bundle has nothing
 * else, and links or devices must never reach the library.
 */
export interface TarMember {
  name: string;
  size: number;
  /** Offset of the member's first header block (a pax header when there is one). */
  headerOffset: number;
  dataOffset: number;
}

export class TarFormatError extends Error {
  constructor(
    message: string,
    /** Where the unreadable header starts: the bytes to fetch again after a transfer error. */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'TarFormatError';
  }
}

const BLOCK = 512;
const MAX_PAX_BYTES = 64 * 1024;

export async function listTar(handle: FileHandle, fileSize: number): Promise<TarMember[]> {
  const members: TarMember[] = [];
  let offset = 0;
  let pax: Record<string, string> = {};
  let memberStart = 0;
  const header = Buffer.alloc(BLOCK);
  for (;;) {
    if (offset + BLOCK > fileSize)
      throw new TarFormatError('tar ends without its end blocks', offset);
    await readExactly(handle, header, offset);
    if (header.every((b) => b === 0)) return members;
    if (!checksumOk(header))
      throw new TarFormatError(`bad tar header checksum at byte ${offset}`, offset);
    const type = String.fromCharCode(header[156] || 0x30);
    const sizeField = parseOctal(header, 124, 12);
    const size = pax.size !== undefined ? Number(pax.size) : sizeField;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new TarFormatError(`bad member size at byte ${offset}`, offset);
    }
    const dataOffset = offset + BLOCK;
    const next = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    if (next > fileSize)
      throw new TarFormatError(`member at byte ${offset} runs past the end`, offset);
    if (type === 'x' || type === 'g') {
      if (size > MAX_PAX_BYTES)
        throw new TarFormatError(`oversized pax header at byte ${offset}`, offset);
      const body = Buffer.alloc(size);
      await readExactly(handle, body, dataOffset);
      if (type === 'x') {
        pax = parsePax(body, offset);
        memberStart = offset;
      }
      offset = next;
      continue;
    }
    if (type !== '0') {
      throw new TarFormatError(
        `tar member of type ${JSON.stringify(type)} at byte ${offset}: only regular files are allowed`,
        offset,
      );
    }
    const name = pax.path ?? ustarName(header);
    members.push({
      name,
      size,
      headerOffset: Object.keys(pax).length > 0 ? memberStart : offset,
      dataOffset,
    });
    pax = {};
    offset = next;
  }
}

async function readExactly(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await handle.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new TarFormatError('unexpected end of file', position);
    done += bytesRead;
  }
}

function checksumOk(header: Buffer): boolean {
  const stored = parseOctal(header, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return stored === sum;
}

function parseOctal(buf: Buffer, offset: number, length: number): number {
  const text = buf
    .subarray(offset, offset + length)
    .toString('latin1')
    .replace(/[\0 ]+$/g, '')
    .trim();
  if (!/^[0-7]*$/.test(text)) return Number.NaN;
  return text === '' ? 0 : parseInt(text, 8);
}

function ustarName(header: Buffer): string {
  const field = (start: number, len: number) => {
    const raw = header.subarray(start, start + len);
    const end = raw.indexOf(0);
    return raw.subarray(0, end < 0 ? len : end).toString('utf8');
  };
  const name = field(0, 100);
  const prefix = header.subarray(257, 263).toString('latin1').startsWith('ustar')
    ? field(345, 155)
    : '';
  return prefix ? `${prefix}/${name}` : name;
}

function parsePax(body: Buffer, offset: number): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const space = body.indexOf(0x20, at);
    const length = Number(body.subarray(at, space).toString('latin1'));
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0 || at + length > body.length) {
      throw new TarFormatError(`malformed pax record at byte ${offset}`, offset);
    }
    const record = body.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return out;
}
