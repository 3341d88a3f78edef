/**
 * The allow-list of media a lesson may contain, with what users and clients call each type.
 */
export type MediaKind = 'video' | 'audio' | 'image' | 'document' | 'package' | 'text';

export interface SniffResult {
  mediaType: string;
  kind: MediaKind;
  /** Extensions that legitimately carry this type: lowercase, without the dot. */
  extensions: string[];
}

export interface Format extends SniffResult {
  /** Said to the user in error messages. */
  label: string;
  /** Other declared types that browsers and operating systems send for the same content. */
  aliases: string[];
}

function format(
  mediaType: string,
  kind: MediaKind,
  extensions: string[],
  label: string,
  aliases: string[] = [],
): Format {
  return { mediaType, kind, extensions, label, aliases };
}

export const FORMATS = {
  mp4: format('video/mp4', 'video', ['mp4', 'm4v'], 'an MP4 video', ['video/x-m4v']),
  // Audio-only MP4 is often named .mp4, so browsers then declare video/mp4 for it.
  m4a: format('audio/mp4', 'audio', ['m4a', 'm4b', 'mp4'], 'an MP4 (M4A) audio file', [
    'audio/x-m4a',
    'audio/m4a',
    'audio/x-m4b',
    'video/mp4',
  ]),
  mov: format('video/quicktime', 'video', ['mov', 'qt'], 'a QuickTime (MOV) video'),
  webm: format('video/webm', 'video', ['webm'], 'a WebM video', ['audio/webm']),
  mp3: format('audio/mpeg', 'audio', ['mp3'], 'an MP3 audio file', ['audio/mp3', 'audio/x-mp3']),
  aac: format('audio/aac', 'audio', ['aac'], 'an AAC audio file', ['audio/x-aac', 'audio/aacp']),
  ogg: format('audio/ogg', 'audio', ['ogg', 'oga', 'opus'], 'an Ogg audio file', [
    'application/ogg',
    'audio/opus',
  ]),
  wav: format('audio/wav', 'audio', ['wav'], 'a WAV audio file', [
    'audio/x-wav',
    'audio/wave',
    'audio/vnd.wave',
  ]),
  flac: format('audio/flac', 'audio', ['flac'], 'a FLAC audio file', ['audio/x-flac']),
  jpeg: format('image/jpeg', 'image', ['jpg', 'jpeg'], 'a JPEG image', [
    'image/jpg',
    'image/pjpeg',
  ]),
  png: format('image/png', 'image', ['png'], 'a PNG image'),
  gif: format('image/gif', 'image', ['gif'], 'a GIF image'),
  webp: format('image/webp', 'image', ['webp'], 'a WebP image'),
  svg: format('image/svg+xml', 'image', ['svg'], 'an SVG image'),
  pdf: format('application/pdf', 'document', ['pdf'], 'a PDF document', ['application/x-pdf']),
  // An EPUB is a zip; a client that does not know .epub may declare the container type.
  epub: format('application/epub+zip', 'document', ['epub'], 'an EPUB book', ['application/zip']),
  zip: format('application/zip', 'package', ['zip', 'h5p'], 'a ZIP package', [
    'application/x-zip-compressed',
    'application/x-zip',
  ]),
  vtt: format('text/vtt', 'text', ['vtt'], 'WebVTT captions'),
  srt: format('application/x-subrip', 'text', ['srt'], 'SubRip (SRT) captions', [
    'text/srt',
    'application/srt',
  ]),
} as const;

export const ACCEPTED_DESCRIPTION =
  'videos (MP4, WebM, MOV), audio (MP3, M4A, AAC, Ogg, WAV, FLAC), images (JPEG, PNG, WebP, GIF, SVG), ' +
  'PDF, EPUB, ZIP packages and captions (VTT, SRT)';
