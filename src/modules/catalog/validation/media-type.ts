/**
 * What may be stored in a lesson is decided from the bytes, never from the name or the declared
 * Content-Type: both come from the client and terminals later serve files with the type stored
 * here. Anything not recognised by the sniffers is refused (an allow-list, not a block-list).
 */
import { AppError } from '../../../common/errors/app-error';
import { ACCEPTED_DESCRIPTION, type Format, type SniffResult } from './media-formats';
import { sniffBinary } from './sniff-binary';
import { sniffText } from './sniff-text';

export type { MediaKind, SniffResult } from './media-formats';

/** How many leading bytes callers should pass to `sniffMediaType`. */
export const SNIFF_BYTES = 8192;

function extensionOf(fileName: string): string | null {
  const base = fileName.slice(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  // Like path.extname: ".profile" has no extension, and neither has "name." .
  if (dot <= 0 || dot === base.length - 1) return null;
  return base.slice(dot + 1).toLowerCase();
}

function sniffFormat(head: Buffer, fileName?: string): Format | null {
  return sniffBinary(head) ?? sniffText(head, fileName ? extensionOf(fileName) : null);
}

/**
 * Recognises an allowed media type from the first bytes of a file (`SNIFF_BYTES` are enough).
 * `fileName` is only consulted for SubRip captions, which have no signature.
 */
export function sniffMediaType(head: Buffer, fileName?: string): SniffResult | null {
  const found = sniffFormat(head, fileName);
  return (
    found && { mediaType: found.mediaType, kind: found.kind, extensions: [...found.extensions] }
  );
}

function bareType(contentType: string): string {
  return contentType.split(';')[0].trim().toLowerCase();
}

/**
 * Sniffs the file and checks that its name and declared Content-Type agree with the content.
 * Throws `unsupported_media_type` or `media_type_mismatch`; returns the type to store.
 */
export function checkMediaType(
  head: Buffer,
  fileName: string,
  declaredContentType?: string,
): SniffResult {
  const found = sniffFormat(head, fileName);
  if (!found) {
    const message = `This type of file cannot be added to a lesson. Upload ${ACCEPTED_DESCRIPTION}.`;
    throw new AppError('unsupported_media_type', message, [{ field: 'file', message }]);
  }
  const extension = extensionOf(fileName);
  if (extension !== null && !found.extensions.includes(extension)) {
    const message =
      `The file name ends in .${extension} but the file is ${found.label} (${found.mediaType}). ` +
      `Rename it to .${found.extensions[0]} or upload the intended file.`;
    throw new AppError('media_type_mismatch', message, [
      { field: 'file', message, sniffed: found.mediaType, extension },
    ]);
  }
  const declared = declaredContentType === undefined ? '' : bareType(declaredContentType);
  const compatible =
    declared === '' ||
    declared === 'application/octet-stream' ||
    declared === found.mediaType ||
    found.aliases.includes(declared) ||
    (found.kind === 'text' && declared === 'text/plain');
  if (!compatible) {
    const message =
      `The upload was declared as ${declared} but the file is ${found.label} (${found.mediaType}). ` +
      'Check that you picked the intended file, or send it without a Content-Type.';
    throw new AppError('media_type_mismatch', message, [
      { field: 'file', message, sniffed: found.mediaType, declared },
    ]);
  }
  return { mediaType: found.mediaType, kind: found.kind, extensions: [...found.extensions] };
}
