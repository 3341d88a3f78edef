import { FORMATS, type Format } from './media-formats';

/**
 * Magic-byte detection. Each check reads only what it bounds-checks first: heads can be any
 * length, including empty, and must never make the sniffer throw.
 */
const MP4_VIDEO_BRANDS = new Set([
  'isom',
  'iso2',
  'iso3',
  'iso4',
  'iso5',
  'iso6',
  'mp41',
  'mp42',
  'avc1',
  'dash',
  'M4V ',
  'M4VH',
  'M4VP',
]);
const MP4_AUDIO_BRANDS = new Set(['M4A ', 'M4B ']);
// Codec identification packets at the start of the first Ogg page; Theora (video) is absent on
// purpose: only audio Ogg is on the allow-list.
const OGG_AUDIO_CODECS = ['\x01vorbis', 'OpusHead', '\x7fFLAC', 'Speex   '];
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const EBML_MAGIC = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);
const EBML_DOCTYPE_ID = 0x4282;

function ascii(head: Buffer, start: number, end: number): string {
  return head.subarray(start, end).toString('latin1');
}

function has(head: Buffer, text: string, offset = 0): boolean {
  return head.length >= offset + text.length && ascii(head, offset, offset + text.length) === text;
}

/** MPEG-1/2/2.5 Layer III frame header, checked field by field so random `FF Ex` bytes fail. */
function isMp3Frame(head: Buffer, at: number): boolean {
  if (head.length < at + 3 || head[at] !== 0xff || (head[at + 1] & 0xe0) !== 0xe0) return false;
  const version = (head[at + 1] >> 3) & 3;
  const layer = (head[at + 1] >> 1) & 3;
  const bitrate = head[at + 2] >> 4;
  const sampleRate = (head[at + 2] >> 2) & 3;
  return version !== 1 && layer === 1 && bitrate !== 0 && bitrate !== 15 && sampleRate !== 3;
}

/** AAC in ADTS framing: 12-bit sync, layer 00, a defined sampling-frequency index. */
function isAdtsFrame(head: Buffer, at: number): boolean {
  if (head.length < at + 3 || head[at] !== 0xff || (head[at + 1] & 0xf6) !== 0xf0) return false;
  return ((head[at + 2] >> 2) & 0x0f) < 13;
}

/** An ID3v2 tag can front MP3, AAC and even FLAC streams: look past it when the head allows. */
function sniffAfterId3(head: Buffer): Format {
  const sizeBytes = head.subarray(6, 10);
  if (sizeBytes.length < 4 || sizeBytes.some((b) => b > 0x7f)) return FORMATS.mp3;
  const size = (sizeBytes[0] << 21) | (sizeBytes[1] << 14) | (sizeBytes[2] << 7) | sizeBytes[3];
  const next = 10 + size + ((head[5] & 0x10) !== 0 ? 10 : 0);
  if (has(head, 'fLaC', next)) return FORMATS.flac;
  if (isAdtsFrame(head, next)) return FORMATS.aac;
  return FORMATS.mp3;
}

/** Reads an EBML variable-length integer; `keepMarker` for element ids, which include it. */
function readVint(
  head: Buffer,
  at: number,
  keepMarker: boolean,
): { value: number; next: number } | null {
  const first = head[at];
  if (first === undefined || first === 0) return null;
  const length = Math.clz32(first) - 23;
  if (at + length > head.length) return null;
  let value = keepMarker ? first : first & (0xff >> length);
  for (let i = 1; i < length; i++) value = value * 256 + head[at + i];
  return { value, next: at + length };
}

/** WebM and Matroska share the EBML container; only the DocType in its header tells them apart. */
function ebmlDocType(head: Buffer): string | null {
  const headerSize = readVint(head, 4, false);
  if (!headerSize) return null;
  const end = Math.min(head.length, headerSize.next + headerSize.value);
  let at = headerSize.next;
  while (at < end) {
    const id = readVint(head, at, true);
    const size = id && readVint(head, id.next, false);
    if (!id || !size) return null;
    if (id.value === EBML_DOCTYPE_ID) {
      return ascii(head, size.next, Math.min(end, size.next + size.value)).replace(/\0+$/, '');
    }
    at = size.next + size.value;
  }
  return null;
}

/** EPUB requires its first entry to be an uncompressed `mimetype` file naming the type. */
function isEpub(head: Buffer): boolean {
  if (head.length < 30 || head.readUInt16LE(8) !== 0) return false;
  const nameLength = head.readUInt16LE(26);
  const dataStart = 30 + nameLength + head.readUInt16LE(28);
  return (
    has(head, 'mimetype', 30) && nameLength === 8 && has(head, 'application/epub+zip', dataStart)
  );
}

function sniffOgg(head: Buffer): Format | null {
  const payload = 27 + (head[26] ?? 0);
  return OGG_AUDIO_CODECS.some((codec) => has(head, codec, payload)) ? FORMATS.ogg : null;
}

/** Recognises the binary formats of the allow-list from their magic bytes. */
export function sniffBinary(head: Buffer): Format | null {
  if (has(head, 'ftyp', 4)) {
    const brand = ascii(head, 8, 12);
    if (MP4_VIDEO_BRANDS.has(brand)) return FORMATS.mp4;
    if (MP4_AUDIO_BRANDS.has(brand)) return FORMATS.m4a;
    return brand === 'qt  ' ? FORMATS.mov : null;
  }
  if (head.subarray(0, 4).equals(EBML_MAGIC)) {
    // Matroska (.mkv) shares the container but is not on the allow-list.
    return ebmlDocType(head) === 'webm' ? FORMATS.webm : null;
  }
  if (has(head, 'RIFF') && has(head, 'WAVE', 8)) return FORMATS.wav;
  if (has(head, 'RIFF') && has(head, 'WEBP', 8)) return FORMATS.webp;
  if (has(head, 'OggS')) return sniffOgg(head);
  if (has(head, 'fLaC')) return FORMATS.flac;
  if (has(head, 'ID3') && head.length >= 10) return sniffAfterId3(head);
  if (has(head, '\xff\xd8\xff')) return FORMATS.jpeg;
  if (head.subarray(0, 8).equals(PNG_SIGNATURE)) return FORMATS.png;
  if (has(head, 'GIF87a') || has(head, 'GIF89a')) return FORMATS.gif;
  if (has(head, '%PDF-')) return FORMATS.pdf;
  if (has(head, 'PK\x03\x04')) return isEpub(head) ? FORMATS.epub : FORMATS.zip;
  if (isAdtsFrame(head, 0)) return FORMATS.aac;
  if (isMp3Frame(head, 0)) return FORMATS.mp3;
  return null;
}
