/**
 * A tiny PDF 1.4 writer for the sample worksheets: A4 pages of Helvetica text (Flate-compressed
 * content streams, as word processors write them) with embedded JPEG illustrations (DCTDecode).
 * Deterministic: the same pages give the same bytes, so an edited worksheet differs from the
 * original only in the pages that changed, and in the offsets after them.
 */
import { writeFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';

export interface PdfImage {
  jpeg: Buffer;
  width: number;
  height: number;
}

export interface PdfPage {
  title: string;
  lines: string[];
  /** Drawn under the title, across the text column. */
  image?: PdfImage;
}

const PAGE_WIDTH = 595;
const PAGE_HEIGHT = 842;
const MARGIN = 56;
const FONT_SIZE = 11;
const LEADING = 15;

/** PDF literal strings: backslash, parentheses; the sample text has nothing else special. */
const literal = (text: string): string => `(${text.replace(/([\\()])/g, '\\$1')})`;

function contentStream(page: PdfPage, imageName: string | undefined): Buffer {
  const ops: string[] = [];
  let y = PAGE_HEIGHT - MARGIN - 18;
  ops.push('BT', '/F2 18 Tf', `${MARGIN} ${y} Td`, `${literal(page.title)} Tj`, 'ET');
  y -= 28;
  if (page.image && imageName) {
    const width = PAGE_WIDTH - 2 * MARGIN;
    const height = Math.round((width * page.image.height) / page.image.width);
    y -= height;
    ops.push('q', `${width} 0 0 ${height} ${MARGIN} ${y} cm`, `/${imageName} Do`, 'Q');
    y -= 20;
  }
  ops.push('BT', `/F1 ${FONT_SIZE} Tf`, `${LEADING} TL`, `${MARGIN} ${y} Td`);
  for (const line of page.lines) {
    if (y < MARGIN) break;
    ops.push(`${literal(line)} Tj T*`);
    y -= LEADING;
  }
  ops.push('ET');
  return Buffer.from(`${ops.join('\n')}\n`, 'latin1');
}

/** Builds the file in memory (worksheets are a few MB) and writes it in one go. */
export async function writePdf(path: string, pages: PdfPage[]): Promise<number> {
  const objects: Buffer[] = [];
  // Object numbers are 1-based: 1 catalog, 2 page tree, 3-4 fonts, then per page.
  const add = (body: Buffer | string): number => {
    objects.push(typeof body === 'string' ? Buffer.from(body, 'latin1') : body);
    return objects.length;
  };
  const stream = (dict: string, data: Buffer): Buffer =>
    Buffer.concat([
      Buffer.from(`<< ${dict} /Length ${data.length} >>\nstream\n`, 'latin1'),
      data,
      Buffer.from('\nendstream', 'latin1'),
    ]);

  add('<< /Type /Catalog /Pages 2 0 R >>');
  add(''); // the page tree, filled in once the page objects have numbers
  add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>');
  const pageIds: number[] = [];
  for (const page of pages) {
    let xObjects = '';
    let imageName: string | undefined;
    if (page.image) {
      const { jpeg, width, height } = page.image;
      const image = add(
        stream(
          `/Type /XObject /Subtype /Image /Width ${width} /Height ${height} ` +
            '/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode',
          jpeg,
        ),
      );
      imageName = `Im${image}`;
      xObjects = ` /XObject << /${imageName} ${image} 0 R >>`;
    }
    const content = add(
      stream('/Filter /FlateDecode', deflateSync(contentStream(page, imageName))),
    );
    pageIds.push(
      add(
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${PAGE_WIDTH} ${PAGE_HEIGHT}] ` +
          `/Resources << /Font << /F1 3 0 R /F2 4 0 R >>${xObjects} >> /Contents ${content} 0 R >>`,
      ),
    );
  }
  objects[1] = Buffer.from(
    `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pageIds.length} >>`,
    'latin1',
  );

  // The binary comment line tells transfer tools the file is binary, as real writers do.
  const chunks: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let offset = chunks[0].length;
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    const chunk = Buffer.concat([
      Buffer.from(`${i + 1} 0 obj\n`, 'latin1'),
      body,
      Buffer.from('\nendobj\n', 'latin1'),
    ]);
    offsets.push(offset);
    chunks.push(chunk);
    offset += chunk.length;
  });
  // Each cross-reference entry is exactly 20 bytes, line end included.
  const xref = [
    'xref',
    `0 ${objects.length + 1}`,
    '0000000000 65535 f\r',
    ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n\r`),
    'trailer',
    `<< /Size ${objects.length + 1} /Root 1 0 R >>`,
    'startxref',
    String(offset),
    '%%EOF',
    '',
  ].join('\n');
  chunks.push(Buffer.from(xref, 'latin1'));
  const bytes = Buffer.concat(chunks);
  await writeFile(path, bytes);
  return bytes.length;
}
