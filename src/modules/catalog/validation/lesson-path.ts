import { AppError } from '../../../common/errors/app-error';

/**
 * Rules for the path of a file inside a lesson. Lessons are extracted onto school terminals that
 * may run Windows, Linux or Android, so a path must be safe and storable on all of them: no way
 * out of the lesson folder, nothing a Windows file system refuses or silently rewrites.
 */
export const MAX_PATH_BYTES = 512;
export const MAX_SEGMENT_BYTES = 255;
export const MAX_SEGMENTS = 32;

// Control characters are invisible in listings and several are illegal in Windows names.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
// With the `u` flag only unpaired surrogates match: they cannot be encoded as UTF-8 at all.
const LONE_SURROGATE = /[\ud800-\udfff]/u;
// `C:foo` is drive-relative and `C:/foo` absolute; both escape the lesson folder on Windows.
const DRIVE_LETTER = /^[a-z]:/i;
// Windows opens the device instead of a file for these names, whatever the extension
// (`con.txt`, `Aux.tar.gz`); the superscript digits are reserved too.
const RESERVED_DEVICE = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;

function invalid(message: string): AppError {
  return new AppError('invalid_path', message, [{ field: 'path', message }]);
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function checkSegment(segment: string): void {
  if (segment === '..') {
    throw invalid('The path must not contain ".." segments; give a path inside the lesson.');
  }
  if (/^\.+$/.test(segment)) {
    throw invalid(
      `The path segment "${segment}" is only dots; remove it or give the folder a real name.`,
    );
  }
  if (/^ +$/.test(segment)) {
    throw invalid('A path segment is only spaces; give every folder and file a visible name.');
  }
  if (/[ .]$/.test(segment)) {
    throw invalid(
      `The path segment "${segment}" ends with a space or a dot, which Windows cannot store; remove it.`,
    );
  }
  if (byteLength(segment) > MAX_SEGMENT_BYTES) {
    throw invalid(
      `Each folder or file name in the path must be at most ${MAX_SEGMENT_BYTES} bytes; shorten "${Array.from(segment).slice(0, 40).join('')}…".`,
    );
  }
  const stem = segment.split('.')[0];
  if (RESERVED_DEVICE.test(stem)) {
    throw invalid(
      `"${segment}" is a reserved device name on Windows; rename the file or folder (for example "${stem}-file").`,
    );
  }
}

/**
 * Validates the path of a file inside a lesson and returns its canonical form: NFC, forward
 * slashes, no repeated slashes, no leading `./`. Throws `invalid_path` when it cannot be made safe.
 */
export function normaliseLessonPath(input: string): string {
  if (typeof input !== 'string') {
    throw invalid('The path must be a string such as "video/lesson-1.mp4".');
  }
  // NFC so that "é" typed on macOS (decomposed) and on Windows (composed) is the same path.
  let path = input.normalize('NFC');
  if (CONTROL_CHARACTER.test(path)) {
    throw invalid('The path contains control characters; use only printable characters.');
  }
  if (LONE_SURROGATE.test(path)) {
    throw invalid('The path is not valid Unicode text; rename the file and upload it again.');
  }
  // Windows tools produce backslashes; treating them as separators also defeats `..\..\x`.
  path = path.replace(/\\/g, '/');
  if (path.startsWith('/') || DRIVE_LETTER.test(path)) {
    throw invalid(
      'The path must be relative to the lesson, such as "video/lesson-1.mp4", not absolute.',
    );
  }
  path = path.replace(/\/{2,}/g, '/');
  while (path.startsWith('./')) path = path.slice(2);

  if (path.length === 0) {
    throw invalid('The path is empty; give the file a name such as "lesson-1.mp4".');
  }
  if (byteLength(path) > MAX_PATH_BYTES) {
    throw invalid(`The path must be at most ${MAX_PATH_BYTES} bytes long (UTF-8); shorten it.`);
  }
  if (path.endsWith('/')) {
    throw invalid('The path names a folder; give the path of a file, such as "docs/notes.pdf".');
  }
  const segments = path.split('/');
  if (segments.length > MAX_SEGMENTS) {
    throw invalid(`The path must have at most ${MAX_SEGMENTS} levels of folders; flatten it.`);
  }
  for (const segment of segments) checkSegment(segment);
  return path;
}
