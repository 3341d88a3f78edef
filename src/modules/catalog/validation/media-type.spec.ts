import { randomBytes } from 'node:crypto';
import { AppError } from '../../../common/errors/app-error';
import { checkMediaType, sniffMediaType, SNIFF_BYTES } from './media-type';
import { bytes, ebml, ftyp, id3, ogg, riff, samples, text } from './media-samples.fixture';
import { buildZip } from './zip-writer.fixture';

describe('sniffMediaType', () => {
  it.each([
    ['mp4', 'video/mp4', 'video', ['mp4', 'm4v']],
    ['m4a', 'audio/mp4', 'audio', ['m4a', 'm4b', 'mp4']],
    ['mov', 'video/quicktime', 'video', ['mov', 'qt']],
    ['webm', 'video/webm', 'video', ['webm']],
    ['mp3', 'audio/mpeg', 'audio', ['mp3']],
    ['aac', 'audio/aac', 'audio', ['aac']],
    ['ogg', 'audio/ogg', 'audio', ['ogg', 'oga', 'opus']],
    ['wav', 'audio/wav', 'audio', ['wav']],
    ['flac', 'audio/flac', 'audio', ['flac']],
    ['jpeg', 'image/jpeg', 'image', ['jpg', 'jpeg']],
    ['png', 'image/png', 'image', ['png']],
    ['gif', 'image/gif', 'image', ['gif']],
    ['webp', 'image/webp', 'image', ['webp']],
    ['svg', 'image/svg+xml', 'image', ['svg']],
    ['pdf', 'application/pdf', 'document', ['pdf']],
    ['epub', 'application/epub+zip', 'document', ['epub']],
    ['zip', 'application/zip', 'package', ['zip', 'h5p']],
    ['vtt', 'text/vtt', 'text', ['vtt']],
    ['srt', 'application/x-subrip', 'text', ['srt']],
  ] as const)('recognises %s', (sample, mediaType, kind, extensions) => {
    expect(sniffMediaType(samples[sample])).toEqual({ mediaType, kind, extensions });
  });

  it.each(['exe', 'elf', 'html', 'json'] as const)('refuses %s (not on the allow-list)', (name) => {
    expect(sniffMediaType(samples[name])).toBeNull();
  });

  it.each(['iso2', 'iso5', 'iso6', 'mp41', 'mp42', 'avc1', 'dash', 'M4V '])(
    'recognises the MP4 video brand %j',
    (brand) => {
      expect(sniffMediaType(ftyp(brand))?.mediaType).toBe('video/mp4');
    },
  );

  it('recognises audiobook M4B as audio/mp4', () => {
    expect(sniffMediaType(ftyp('M4B '))?.mediaType).toBe('audio/mp4');
  });

  it.each([
    ['HEIC image (ftyp heic)', ftyp('heic')],
    ['3GP video', ftyp('3gp4')],
    ['Matroska', ebml('matroska')],
    ['EBML without a DocType', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x84, 0x42, 0x86, 0x81, 1])],
    ['Ogg Theora video', ogg('\x80theora')],
    ['Ogg with an unknown stream', ogg('fishead\0')],
    ['AVI', riff('AVI ', 'LIST')],
    ['an empty zip', bytes('PK\x05\x06', Buffer.alloc(18))],
    ['PDF signature not at the start', text('junk%PDF-1.7')],
    ['bytes that only look like an MPEG sync', bytes([0xff, 0xe0, 0, 0])],
    ['an MPEG layer I header', bytes([0xff, 0xff, 0x90, 0x64])],
    ['empty input', Buffer.alloc(0)],
    ['a single byte', Buffer.from([0xff])],
  ])('refuses %s', (_label, head) => {
    expect(sniffMediaType(head)).toBeNull();
  });

  it.each([
    ['FFFB', [0xff, 0xfb, 0x90, 0x64]],
    ['FFFA', [0xff, 0xfa, 0x90, 0x64]],
    ['FFF3', [0xff, 0xf3, 0x48, 0xc4]],
    ['FFF2', [0xff, 0xf2, 0x48, 0xc4]],
    ['FFE3 (MPEG 2.5)', [0xff, 0xe3, 0x18, 0xc4]],
  ])('recognises a bare MP3 frame sync %s', (_label, head) => {
    expect(sniffMediaType(bytes(head, Buffer.alloc(16)))?.mediaType).toBe('audio/mpeg');
  });

  it('recognises ADTS with an MPEG-2 sync (FFF9)', () => {
    expect(sniffMediaType(bytes([0xff, 0xf9, 0x50, 0x80], Buffer.alloc(8)))?.mediaType).toBe(
      'audio/aac',
    );
  });

  it('looks past an ID3 tag: FLAC and AAC may carry one too', () => {
    expect(sniffMediaType(id3('fLaC', [0, 0, 0, 0x22]))?.mediaType).toBe('audio/flac');
    expect(sniffMediaType(id3([0xff, 0xf1, 0x50, 0x80]))?.mediaType).toBe('audio/aac');
    // A large tag (cover art) hides the first frame beyond the head: still MP3.
    const bigTag = bytes('ID3', [4, 0, 0, 0, 1, 0, 0], Buffer.alloc(SNIFF_BYTES - 10));
    expect(sniffMediaType(bigTag)?.mediaType).toBe('audio/mpeg');
  });

  it('recognises Ogg Vorbis, FLAC and Speex as audio/ogg', () => {
    for (const codec of ['\x01vorbis', '\x7fFLAC', 'Speex   ']) {
      expect(sniffMediaType(ogg(codec))?.mediaType).toBe('audio/ogg');
    }
  });

  it('treats a zip whose mimetype entry is compressed or wrong as a plain zip', () => {
    const compressed = buildZip([{ name: 'mimetype', data: text('application/epub+zip') }]);
    const other = buildZip([{ name: 'mimetype', method: 0, data: text('application/x-foo') }]);
    expect(sniffMediaType(compressed)?.mediaType).toBe('application/zip');
    expect(sniffMediaType(other)?.mediaType).toBe('application/zip');
  });

  it.each([
    ['with a BOM', '\ufeff<svg xmlns="http://www.w3.org/2000/svg"/>'],
    ['after an XML declaration', '<?xml version="1.0" encoding="UTF-8"?>\n<svg>'],
    ['after comments', '<!-- made by Inkscape -->\n<!-- -> -->\n  <svg\n width="1">'],
    [
      'after a doctype with an internal subset',
      '<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd" [ <!ENTITY a "b>"> ]>\r\n<svg>',
    ],
    ['after a stylesheet instruction', '<?xml version="1.0"?><?xml-stylesheet href="a.css"?><svg>'],
  ])('recognises SVG %s', (_label, source) => {
    expect(sniffMediaType(text(source))?.mediaType).toBe('image/svg+xml');
  });

  it.each([
    ['HTML with inline SVG', '<html><svg></svg></html>'],
    ['an element that only starts with svg', '<svgfoo/>'],
    ['an unterminated comment', '<!-- <svg>'],
    ['an SVG in UTF-16', '\ufeff<svg>'],
  ])('refuses %s as SVG', (label, source) => {
    const head = label.includes('UTF-16') ? Buffer.from(source, 'utf16le') : text(source);
    expect(sniffMediaType(head)).toBeNull();
  });

  it('gives up quickly on a long unterminated doctype', () => {
    const head = text(`<!DOCTYPE svg${' '.repeat(SNIFF_BYTES - 13)}`);
    const started = Date.now();
    expect(sniffMediaType(head)).toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('recognises WebVTT only with its exact signature', () => {
    expect(sniffMediaType(text('\ufeffWEBVTT - 第一课\n\n'))?.mediaType).toBe('text/vtt');
    expect(sniffMediaType(text('WEBVTT'))?.mediaType).toBe('text/vtt');
    expect(sniffMediaType(text('WEBVTTX\n'))).toBeNull();
    expect(sniffMediaType(text('webvtt\n'))).toBeNull();
  });

  describe('SubRip captions, which have no signature', () => {
    it('recognises the cue structure whatever the name', () => {
      expect(sniffMediaType(samples.srt, 'captions')?.mediaType).toBe('application/x-subrip');
      const crlf = text('\ufeff\r\n1\r\n00:00:01.000 --> 00:00:02.000\r\nHi\r\n');
      expect(sniffMediaType(crlf)?.mediaType).toBe('application/x-subrip');
    });

    it('accepts other UTF-8 text only when named .srt', () => {
      const odd = text('字幕 by teacher Li\n\n1\n00:00:01,000 --> 00:00:02,000\n');
      expect(sniffMediaType(odd, 'lesson.SRT')?.mediaType).toBe('application/x-subrip');
      expect(sniffMediaType(odd, 'lesson.txt')).toBeNull();
      expect(sniffMediaType(odd)).toBeNull();
    });

    it('refuses markup, binary and non-UTF-8 text even when named .srt', () => {
      expect(sniffMediaType(samples.html, 'a.srt')).toBeNull();
      expect(sniffMediaType(bytes('1\n', [0, 1, 2, 3]), 'a.srt')).toBeNull();
      expect(
        sniffMediaType(Buffer.from([0x31, 0x0a, 0xd7, 0xd6, 0xc4, 0xbb]), 'gbk.srt'),
      ).toBeNull();
    });

    it('tolerates a character cut in half by the end of the head', () => {
      const whole = text('字幕\n'.repeat(3000)).subarray(0, SNIFF_BYTES);
      const cut = whole.subarray(0, whole.length - 1);
      expect(sniffMediaType(cut, 'a.srt')?.mediaType).toBe('application/x-subrip');
    });
  });

  it('returns a copy of the extension list', () => {
    sniffMediaType(samples.png)?.extensions.push('exe');
    expect(sniffMediaType(samples.png)?.extensions).toEqual(['png']);
  });

  it('never throws on truncated or random input', () => {
    for (const sample of Object.values(samples)) {
      for (let length = 0; length <= sample.length; length++) {
        expect(() => sniffMediaType(sample.subarray(0, length), 'x.srt')).not.toThrow();
      }
    }
    for (let i = 0; i < 2000; i++) {
      const head = randomBytes(i % 64);
      expect(() => sniffMediaType(head)).not.toThrow();
    }
  });
});

function failure(run: () => unknown): AppError {
  try {
    run();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

describe('checkMediaType', () => {
  it('refuses a PNG named .mp4 as a mismatch naming both types', () => {
    const err = failure(() => checkMediaType(samples.png, 'lesson.mp4'));
    expect(err.code).toBe('media_type_mismatch');
    expect(err.status).toBe(415);
    expect(err.message).toMatch(/\.mp4.*PNG.*\.png/);
    expect(err.details).toEqual([
      { field: 'file', message: err.message, sniffed: 'image/png', extension: 'mp4' },
    ]);
  });

  it('refuses a PDF declared as video/mp4', () => {
    const err = failure(() => checkMediaType(samples.pdf, 'notes', 'video/mp4'));
    expect(err.code).toBe('media_type_mismatch');
    expect(err.details).toEqual([
      { field: 'file', message: err.message, sniffed: 'application/pdf', declared: 'video/mp4' },
    ]);
  });

  it.each([
    ['an .exe', samples.exe, 'setup.exe'],
    ['an .exe renamed to .mp4', samples.exe, 'lesson.mp4'],
    ['an HTML page', samples.html, 'index.html'],
    ['an HTML page with no name', samples.html, ''],
    ['JSON', samples.json, 'data.json'],
  ])('refuses %s as unsupported', (_label, head, name) => {
    const err = failure(() => checkMediaType(head, name, 'application/octet-stream'));
    expect(err.code).toBe('unsupported_media_type');
    expect(err.status).toBe(415);
    expect(err.message).toMatch(/MP4.*PDF/);
    expect(err.details).toEqual([{ field: 'file', message: err.message }]);
  });

  it('accepts a JPEG named .JPG (extensions are case-insensitive)', () => {
    expect(checkMediaType(samples.jpeg, 'PHOTO.JPG', 'image/jpeg').mediaType).toBe('image/jpeg');
  });

  it.each([
    ['no extension', samples.mp4, 'lesson', undefined],
    ['a hidden-file name', samples.mp4, '.lesson', undefined],
    ['a browser fake path', samples.png, 'C:\\fakepath\\board.png', 'image/png'],
    ['octet-stream declared', samples.pdf, 'a.pdf', 'application/octet-stream'],
    ['an empty declared type', samples.pdf, 'a.pdf', ''],
    ['parameters and case in the declared type', samples.jpeg, 'a.jpeg', 'IMAGE/JPEG; q=1'],
    ['image/jpg', samples.jpeg, 'a.jpg', 'image/jpg'],
    ['audio/mp3', samples.mp3, 'a.mp3', 'audio/mp3'],
    ['audio/x-wav', samples.wav, 'a.wav', 'audio/x-wav'],
    ['x-zip-compressed (Windows)', samples.zip, 'pkg.zip', 'application/x-zip-compressed'],
    ['an H5P package', samples.zip, 'quiz.h5p', 'application/octet-stream'],
    ['audio/x-m4a (macOS)', samples.m4a, 'a.m4a', 'audio/x-m4a'],
    ['video/x-m4v', samples.mp4, 'a.m4v', 'video/x-m4v'],
    ['audio-only MP4 named .mp4 declared video/mp4', samples.m4a, 'a.mp4', 'video/mp4'],
    ['SRT declared text/plain', samples.srt, 'a.srt', 'text/plain'],
    ['VTT declared text/vtt;charset=utf-8', samples.vtt, 'a.vtt', 'text/vtt;charset=utf-8'],
    ['an EPUB declared as a zip', samples.epub, 'book.epub', 'application/zip'],
  ])('accepts %s', (_label, head, name, declared) => {
    expect(() => checkMediaType(head, name, declared)).not.toThrow();
  });

  it.each([
    ['an MP4 video named .m4a', samples.mp4, 'a.m4a', undefined],
    ['a zip named .epub', samples.zip, 'book.epub', undefined],
    ['an EPUB named .zip', samples.epub, 'book.zip', undefined],
    ['an MP4 declared text/plain', samples.mp4, 'a.mp4', 'text/plain'],
    ['a JPEG declared image/png', samples.jpeg, 'a.jpg', 'image/png'],
    ['an SVG declared text/html', samples.svg, 'a.svg', 'text/html'],
    ['a WebM named .mkv', samples.webm, 'a.mkv', undefined],
  ])('refuses %s as a mismatch', (_label, head, name, declared) => {
    expect(failure(() => checkMediaType(head, name, declared)).code).toBe('media_type_mismatch');
  });

  it('returns the sniffed type', () => {
    expect(checkMediaType(samples.webm, 'talk.webm', 'video/webm')).toEqual({
      mediaType: 'video/webm',
      kind: 'video',
      extensions: ['webm'],
    });
  });
});
