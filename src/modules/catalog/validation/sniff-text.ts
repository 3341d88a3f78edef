import { FORMATS, type Format } from './media-formats';

/**
 * The head as text, or null when it is binary or not UTF-8. A multi-byte character cut by the
 * end of the head is dropped rather than counted as invalid.
 */
function utf8Text(head: Buffer): string | null {
  let end = head.length;
  for (let back = 1; back <= Math.min(3, head.length); back++) {
    const byte = head[head.length - back];
    if ((byte & 0xc0) === 0x80) continue;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    if (needed > back) end = head.length - back;
    break;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end));
  } catch {
    return null;
  }
  // NUL and most C0 controls mean binary; tab, newlines, form feed and DOS EOF (0x1a) do not.
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000e-\u0019\u001b-\u001f]/.test(text) ? null : text;
}

/**
 * The text after a doctype, whose internal subset (in brackets) may itself contain `>`. Index
 * scans rather than a regex, which would backtrack badly on a long unterminated doctype.
 */
function skipDoctype(rest: string): string | null {
  const close = rest.indexOf('>');
  const bracket = rest.indexOf('[');
  if (close < 0) return null;
  if (bracket < 0 || close < bracket) return rest.slice(close + 1);
  const subsetEnd = rest.indexOf(']', bracket);
  const after = subsetEnd < 0 ? -1 : rest.indexOf('>', subsetEnd);
  return after < 0 ? null : rest.slice(after + 1);
}

/** Skips what may precede the root element of an SVG document: XML declaration, comments, doctype. */
function isSvg(text: string): boolean {
  let rest = text.trimStart();
  for (;;) {
    if (rest.startsWith('<?')) {
      const end = rest.indexOf('?>');
      if (end < 0) return false;
      rest = rest.slice(end + 2).trimStart();
    } else if (rest.startsWith('<!--')) {
      const end = rest.indexOf('-->');
      if (end < 0) return false;
      rest = rest.slice(end + 3).trimStart();
    } else if (/^<!doctype/i.test(rest)) {
      const after = skipDoctype(rest);
      if (after === null) return false;
      rest = after.trimStart();
    } else {
      return /^<svg[\s/>]/.test(rest);
    }
  }
}

const SRT_CUE = /^\s*\d+[ \t]*\r?\n[ \t]*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}[ \t]*-->/;

/** Recognises the text formats of the allow-list: SVG and captions, UTF-8 only. */
export function sniffText(head: Buffer, extension: string | null): Format | null {
  const text = utf8Text(head);
  if (text === null) return null;
  if (/^WEBVTT(?:[ \t\r\n]|$)/.test(text)) return FORMATS.vtt;
  if (isSvg(text)) return FORMATS.svg;
  if (SRT_CUE.test(text)) return FORMATS.srt;
  // SRT has no magic bytes; trust the name only for plain text that is not markup, so an HTML
  // page renamed to .srt is still refused.
  if (extension === 'srt' && !text.trimStart().startsWith('<')) return FORMATS.srt;
  return null;
}
