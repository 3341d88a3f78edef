import { buildZip } from './zip-writer.fixture';

/** Test-only: minimal but structurally real heads of each format, built byte by byte. */
export const bytes = (...parts: (string | number[] | Buffer)[]): Buffer =>
  Buffer.concat(
    parts.map((p) =>
      typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.isBuffer(p) ? p : Buffer.from(p),
    ),
  );
export const ftyp = (brand: string): Buffer =>
  bytes([0, 0, 0, 0x18], 'ftyp', brand, [0, 0, 2, 0], 'isommp41', [0, 0, 0, 8], 'free');
export const ebml = (docType: string): Buffer => {
  const fields = bytes(
    [0x42, 0x86, 0x81, 1, 0x42, 0xf7, 0x81, 1, 0x42, 0xf2, 0x81, 4, 0x42, 0xf3, 0x81, 8],
    [0x42, 0x82, 0x80 | docType.length],
    docType,
    [0x42, 0x87, 0x81, 4, 0x42, 0x85, 0x81, 2],
  );
  return bytes([0x1a, 0x45, 0xdf, 0xa3, 0x80 | fields.length], fields, [0x18, 0x53, 0x80, 0x67]);
};
export const ogg = (payload: string): Buffer =>
  bytes('OggS', [0, 2], Buffer.alloc(20), [1, payload.length + 11], payload, Buffer.alloc(11));
export const riff = (form: string, chunk: string): Buffer =>
  bytes('RIFF', [0x24, 0, 0, 0], form, chunk, [16, 0, 0, 0], Buffer.alloc(16));
export const id3 = (...after: (string | number[])[]): Buffer =>
  bytes('ID3', [3, 0, 0, 0, 0, 0, 10], Buffer.alloc(10), ...after);
export const text = (value: string): Buffer => Buffer.from(value, 'utf8');

export const samples = {
  mp4: ftyp('isom'),
  m4a: ftyp('M4A '),
  mov: ftyp('qt  '),
  webm: ebml('webm'),
  mp3: id3([0xff, 0xfb, 0x90, 0x64], Buffer.alloc(32).toString('latin1')),
  aac: bytes([0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc], Buffer.alloc(16)),
  ogg: ogg('OpusHead'),
  wav: riff('WAVE', 'fmt '),
  flac: bytes('fLaC', [0, 0, 0, 0x22], Buffer.alloc(34)),
  jpeg: bytes([0xff, 0xd8, 0xff, 0xe0, 0, 0x10], 'JFIF', [0]),
  png: bytes([0x89], 'PNG', [0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d], 'IHDR', Buffer.alloc(17)),
  gif: bytes('GIF89a', [1, 0, 1, 0, 0, 0, 0]),
  webp: riff('WEBP', 'VP8 '),
  svg: text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect/></svg>'),
  pdf: text('%PDF-1.7\n%\u00e2\u00e3\n1 0 obj\n'),
  epub: buildZip([
    { name: 'mimetype', method: 0, data: text('application/epub+zip') },
    { name: 'META-INF/container.xml', data: text('<container/>') },
  ]),
  zip: buildZip([{ name: 'index.html', data: text('<!doctype html><title>x</title>') }]),
  vtt: text('WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n同学们好\n'),
  srt: text(
    '1\n00:00:01,000 --> 00:00:04,000\n同学们好\n\n2\n00:00:05,000 --> 00:00:06,000\n再见\n',
  ),
  exe: bytes('MZ', [0x90, 0, 3, 0, 0, 0, 4, 0], Buffer.alloc(40)),
  elf: bytes([0x7f], 'ELF', [2, 1, 1, 0]),
  html: text('<!DOCTYPE html>\n<html><body><script>alert(1)</script></body></html>'),
  json: text('{"lesson": 1}'),
};
