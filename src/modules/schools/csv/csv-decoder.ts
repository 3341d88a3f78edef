import { Transform, TransformCallback } from 'node:stream';
import * as iconv from 'iconv-lite';
import { CsvHeaderError } from './csv-errors';

export type CsvCharset = 'utf-8' | 'gb18030';

const BOMS: { bytes: number[]; charset: CsvCharset | 'utf-16' }[] = [
  { bytes: [0xef, 0xbb, 0xbf], charset: 'utf-8' },
  { bytes: [0x84, 0x31, 0x95, 0x33], charset: 'gb18030' },
  { bytes: [0xff, 0xfe], charset: 'utf-16' },
  { bytes: [0xfe, 0xff], charset: 'utf-16' },
];
const SNIFF_BYTES = 4;

function bomCharset(head: Buffer): CsvCharset | 'utf-16' | undefined {
  return BOMS.find(({ bytes }) => bytes.every((b, i) => head[i] === b))?.charset;
}

/**
 * Bytes in the declared charset -> UTF-8 bytes for csv-parse, without the byte order mark.
 *
 * A byte order mark overrides the declared charset: it is unambiguous, and decoding a UTF-8 file
 * as GB18030 would not fail but silently store mojibake names. UTF-16 (Excel's "Unicode text")
 * is refused up front with a hint instead of surfacing as a header of unknown columns.
 *
 * Undecodable bytes become U+FFFD; the row reader rejects rows holding one (invalid_encoding),
 * so a single bad byte costs one row rather than the file.
 */
export class CsvDecoder extends Transform {
  private decoder?: iconv.DecoderStream;
  private head: Buffer[] = [];
  private headLength = 0;
  private atStart = true;

  constructor(private readonly declared: CsvCharset) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      if (this.decoder) {
        this.pushText(this.decoder.write(chunk));
      } else {
        this.head.push(chunk);
        this.headLength += chunk.length;
        if (this.headLength >= SNIFF_BYTES) this.start();
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.decoder) this.start();
      this.pushText(this.decoder?.end() ?? '');
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private start(): void {
    const head = Buffer.concat(this.head);
    this.head = [];
    const charset = bomCharset(head) ?? this.declared;
    if (charset === 'utf-16') {
      throw new CsvHeaderError([
        'the file is UTF-16 text; save it as "CSV UTF-8" (or GB18030 with ?charset=gb18030)',
      ]);
    }
    this.decoder = iconv.getDecoder(charset);
    this.pushText(this.decoder.write(head));
  }

  private pushText(text: string): void {
    let out = text;
    if (this.atStart && out.length > 0) {
      this.atStart = false;
      if (out.charCodeAt(0) === 0xfeff) out = out.slice(1);
    }
    if (out.length > 0) this.push(out, 'utf8');
  }
}
