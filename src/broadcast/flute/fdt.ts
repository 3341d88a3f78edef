/**
 * FDT instances (RFC 6726 3.4.2): the XML that announces which TOI carries which file. Built with
 * escaping, parsed by a small strict reader (no DTDs, no external entities, bounded size), because
 * the FDT arrives from the air and a receiver must never be steered by it beyond its schema.
 */
import { otiFromFdtAttributes, otiToFdtAttributes, type Oti } from './oti';

export const FDT_NAMESPACE = 'urn:ietf:params:xml:ns:fdt';
/** Classcast's own attributes (allowed by the schema's anyAttribute ##other). */
export const CLASSCAST_NAMESPACE = 'urn:classcast:flute:1';
/** Seconds between the NTP era (1900) and the Unix epoch (1970). */
export const NTP_UNIX_OFFSET = 2_208_988_800;
export const MAX_FDT_BYTES = 4 * 1024 * 1024;

/** Where a transport object sits inside the file it was cut from. */
export interface FilePart {
  fileLocation: string;
  fileLength: number;
  fileSha256: string;
  index: number;
  count: number;
  offset: number;
}

export interface FdtFile {
  toi: number;
  contentLocation: string;
  contentLength: number;
  contentType?: string;
  /** Base64 MD5 of the object (Content-MD5). */
  contentMd5?: string;
  /** Hex SHA-256 of the object. */
  sha256?: string;
  oti?: Oti;
  part?: FilePart;
}

export interface FdtInstance {
  /** NTP seconds (RFC 6726: the 32 most significant bits of an NTP timestamp). */
  expires: number;
  complete?: boolean;
  files: FdtFile[];
}

export class FdtError extends Error {}

function escapeAttr(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function unixToNtpSeconds(unixMs: number): number {
  return Math.floor(unixMs / 1000) + NTP_UNIX_OFFSET;
}

export function buildFdt(fdt: FdtInstance): Buffer {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<FDT-Instance xmlns="${FDT_NAMESPACE}" xmlns:cc="${CLASSCAST_NAMESPACE}" Expires="${fdt.expires}"` +
      `${fdt.complete ? ' Complete="true"' : ''}>`,
  ];
  for (const f of fdt.files) {
    const attrs: [string, string][] = [
      ['Content-Location', f.contentLocation],
      ['TOI', String(f.toi)],
      ['Content-Length', String(f.contentLength)],
    ];
    if (f.contentType) attrs.push(['Content-Type', f.contentType]);
    if (f.contentMd5) attrs.push(['Content-MD5', f.contentMd5]);
    if (f.oti) for (const [k, v] of Object.entries(otiToFdtAttributes(f.oti))) attrs.push([k, v]);
    if (f.sha256) attrs.push(['cc:SHA-256', f.sha256]);
    if (f.part) {
      attrs.push(
        ['cc:File-Location', f.part.fileLocation],
        ['cc:File-Length', String(f.part.fileLength)],
        ['cc:File-SHA-256', f.part.fileSha256],
        ['cc:Part-Index', String(f.part.index)],
        ['cc:Part-Count', String(f.part.count)],
        ['cc:Part-Offset', String(f.part.offset)],
      );
    }
    lines.push(`  <File ${attrs.map(([k, v]) => `${k}="${escapeAttr(v)}"`).join(' ')}/>`);
  }
  lines.push('</FDT-Instance>', '');
  return Buffer.from(lines.join('\n'), 'utf8');
}

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

const NAME = /^[A-Za-z_][\w.:-]*/;

function decodeEntities(raw: string): string {
  return raw.replace(
    /&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|amp|lt|gt|quot|apos);|&/g,
    (m, ent?: string) => {
      if (ent === undefined) throw new FdtError('bare & in attribute');
      switch (ent) {
        case 'amp':
          return '&';
        case 'lt':
          return '<';
        case 'gt':
          return '>';
        case 'quot':
          return '"';
        case 'apos':
          return "'";
        default: {
          const code = ent.startsWith('#x')
            ? parseInt(ent.slice(2), 16)
            : parseInt(ent.slice(1), 10);
          if (code > 0x10ffff || code === 0) throw new FdtError('bad character reference');
          return String.fromCodePoint(code);
        }
      }
    },
  );
}

/** Elements and attributes only; text content is ignored (FDT carries none Classcast needs). */
function parseXml(text: string): XmlElement {
  let at = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const skipSpace = (): void => {
    while (at < text.length && /\s/.test(text[at])) at++;
  };
  while (at < text.length) {
    const lt = text.indexOf('<', at);
    if (lt < 0) break;
    at = lt;
    if (text.startsWith('<?', at)) {
      const end = text.indexOf('?>', at);
      if (end < 0) throw new FdtError('unterminated processing instruction');
      at = end + 2;
    } else if (text.startsWith('<!--', at)) {
      const end = text.indexOf('-->', at);
      if (end < 0) throw new FdtError('unterminated comment');
      at = end + 3;
    } else if (text.startsWith('<!', at)) {
      throw new FdtError('DTDs and CDATA are not accepted');
    } else if (text.startsWith('</', at)) {
      at += 2;
      const m = NAME.exec(text.slice(at, at + 256));
      if (!m) throw new FdtError('bad closing tag');
      at += m[0].length;
      skipSpace();
      if (text[at] !== '>') throw new FdtError('bad closing tag');
      at++;
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new FdtError('mismatched closing tag');
    } else {
      at++;
      const m = NAME.exec(text.slice(at, at + 256));
      if (!m) throw new FdtError('bad tag');
      at += m[0].length;
      const el: XmlElement = { name: m[0], attrs: {}, children: [] };
      const parent = stack.at(-1);
      if (parent) parent.children.push(el);
      else if (root) throw new FdtError('more than one root element');
      else root = el;
      for (;;) {
        skipSpace();
        if (text.startsWith('/>', at)) {
          at += 2;
          break;
        }
        if (text[at] === '>') {
          at++;
          stack.push(el);
          break;
        }
        const an = NAME.exec(text.slice(at, at + 256));
        if (!an) throw new FdtError('bad attribute');
        at += an[0].length;
        skipSpace();
        if (text[at] !== '=') throw new FdtError('attribute without value');
        at++;
        skipSpace();
        const quote = text[at];
        if (quote !== '"' && quote !== "'") throw new FdtError('unquoted attribute');
        const end = text.indexOf(quote, at + 1);
        if (end < 0) throw new FdtError('unterminated attribute');
        const raw = text.slice(at + 1, end);
        if (raw.includes('<')) throw new FdtError('< in attribute');
        if (an[0] in el.attrs) throw new FdtError('duplicate attribute');
        el.attrs[an[0]] = decodeEntities(raw);
        at = end + 1;
      }
    }
  }
  if (stack.length > 0) throw new FdtError('unclosed element');
  if (!root) throw new FdtError('no root element');
  return root;
}

function localName(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

function uint(attrs: Record<string, string>, name: string, required: true): number;
function uint(attrs: Record<string, string>, name: string, required: false): number | undefined;
function uint(attrs: Record<string, string>, name: string, required: boolean): number | undefined {
  const raw = attrs[name];
  if (raw === undefined) {
    if (required) throw new FdtError(`${name} missing`);
    return undefined;
  }
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw)))
    throw new FdtError(`${name} is not an unsigned integer`);
  return Number(raw);
}

/** Prefix bound to Classcast's namespace in this document (`cc` unless declared otherwise). */
function classcastPrefix(root: XmlElement): string | undefined {
  for (const [k, v] of Object.entries(root.attrs)) {
    if (k.startsWith('xmlns:') && v === CLASSCAST_NAMESPACE) return k.slice(6);
  }
  return undefined;
}

export function parseFdt(bytes: Uint8Array): FdtInstance {
  if (bytes.length > MAX_FDT_BYTES) throw new FdtError('FDT instance too large');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FdtError('FDT is not UTF-8');
  }
  const root = parseXml(text);
  if (localName(root.name) !== 'FDT-Instance') throw new FdtError('root is not FDT-Instance');
  const ns = root.attrs[root.name.includes(':') ? `xmlns:${root.name.split(':')[0]}` : 'xmlns'];
  if (ns !== undefined && ns !== FDT_NAMESPACE) throw new FdtError('not the FDT namespace');
  const cc = classcastPrefix(root);
  const expires = uint(root.attrs, 'Expires', true);
  const files: FdtFile[] = [];
  const seen = new Set<number>();
  for (const el of root.children) {
    if (localName(el.name) !== 'File') continue;
    const a = el.attrs;
    const contentLocation = a['Content-Location'];
    if (!contentLocation) throw new FdtError('File without Content-Location');
    const toi = uint(a, 'TOI', true);
    if (toi === 0 || toi > 0xffffffff) throw new FdtError('TOI out of range');
    if (seen.has(toi)) throw new FdtError('TOI listed twice');
    seen.add(toi);
    const contentLength = uint(a, 'Content-Length', false) ?? uint(a, 'Transfer-Length', true);
    const file: FdtFile = { toi, contentLocation, contentLength };
    if (a['Content-Type']) file.contentType = a['Content-Type'];
    if (a['Content-MD5']) {
      if (Buffer.from(a['Content-MD5'], 'base64').length !== 16)
        throw new FdtError('bad Content-MD5');
      file.contentMd5 = a['Content-MD5'];
    }
    try {
      file.oti = otiFromFdtAttributes(a);
    } catch (e) {
      throw new FdtError((e as Error).message);
    }
    if (cc) {
      const sha = a[`${cc}:SHA-256`];
      if (sha !== undefined) {
        if (!/^[0-9a-f]{64}$/.test(sha)) throw new FdtError('bad SHA-256');
        file.sha256 = sha;
      }
      const fileLocation = a[`${cc}:File-Location`];
      if (fileLocation !== undefined) {
        const fileSha256 = a[`${cc}:File-SHA-256`] ?? '';
        if (!/^[0-9a-f]{64}$/.test(fileSha256)) throw new FdtError('bad File-SHA-256');
        const part: FilePart = {
          fileLocation,
          fileSha256,
          fileLength: uint(a, `${cc}:File-Length`, true),
          index: uint(a, `${cc}:Part-Index`, true),
          count: uint(a, `${cc}:Part-Count`, true),
          offset: uint(a, `${cc}:Part-Offset`, true),
        };
        if (
          part.count < 1 ||
          part.index >= part.count ||
          part.offset + contentLength > part.fileLength
        ) {
          throw new FdtError('inconsistent file part');
        }
        file.part = part;
      }
    }
    files.push(file);
  }
  return { expires, complete: root.attrs.Complete === 'true' ? true : undefined, files };
}
