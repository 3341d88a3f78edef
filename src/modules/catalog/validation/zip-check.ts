import type { Entry, ZipFile } from 'yauzl';
import { AppError } from '../../../common/errors/app-error';
import { normaliseLessonPath } from './lesson-path';
import { drainEntry, entryLabel, openZip, unsafe, walkEntries } from './zip-reader';

/**
 * Checks an uploaded ZIP (HTML5 package) before anything unpacks it, on a school terminal or
 * here: no entry may land outside the package folder and inflating it must stay within limits.
 * Two passes: the central directory alone (cheap, catches honest bombs and bad names), then a
 * real inflate of every entry, because the sizes in the directory are written by the uploader.
 */
export interface ZipLimits {
  maxEntries: number;
  maxTotalUncompressedBytes: number;
  /** Largest accepted uncompressed/compressed size ratio, per entry and for the whole archive. */
  maxRatio: number;
}

export interface ZipSummary {
  entries: number;
  uncompressedBytes: number;
  hasIndexHtml: boolean;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 20_000,
  maxTotalUncompressedBytes: 2 * 1024 ** 3,
  maxRatio: 200,
};

/**
 * Small files of repeated bytes (blank padding, empty JSON arrays) legitimately compress far
 * beyond any sane ratio; they cannot amount to a bomb because the total is capped anyway.
 */
const RATIO_EXEMPT_BYTES = 1024 ** 2;

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const STORED = 0;
const DEFLATED = 8;

/** Ignored when looking for the package's single top-level folder (Finder adds them). */
const ARCHIVER_DROPPINGS = new Set(['__macosx', '.ds_store']);

function checkEncoding(entry: Entry): void {
  if (entry.isEncrypted()) {
    throw unsafe(
      `The entry "${entryLabel(entry)}" is encrypted; packages must be zipped without a password.`,
      entryLabel(entry),
    );
  }
  if (entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED) {
    throw unsafe(
      `The entry "${entryLabel(entry)}" uses a compression method the server cannot check; rebuild the zip with standard (deflate) compression.`,
      entryLabel(entry),
    );
  }
}

/**
 * Streams every entry through the inflater and counts the real bytes. yauzl's size validation
 * fails an entry whose real size differs from the directory's, and the running total aborts
 * the pass as soon as it exceeds the limit, so a bomb is never inflated to the end.
 */
export async function inflateCheck(
  filePath: string,
  limits: ZipLimits = DEFAULT_ZIP_LIMITS,
): Promise<{ entries: number; uncompressedBytes: number }> {
  const zipfile = await openWithinEntryLimit(filePath, limits);
  let entries = 0;
  let total = 0;
  await walkEntries(zipfile, async (entry) => {
    entries += 1;
    if (entries > limits.maxEntries) throw tooManyEntries(limits);
    checkEncoding(entry);
    let entryBytes = 0;
    await drainEntry(zipfile, entry, (count) => {
      entryBytes += count;
      total += count;
      if (total > limits.maxTotalUncompressedBytes) throw tooLarge(limits);
      if (
        entryBytes > RATIO_EXEMPT_BYTES &&
        entryBytes / Math.max(entry.compressedSize, 1) > limits.maxRatio
      ) {
        throw tooCompressed(entry, limits);
      }
    });
  });
  return { entries, uncompressedBytes: total };
}

/** The end-of-directory record gives the count up front: refuse before reading any entry. */
async function openWithinEntryLimit(filePath: string, limits: ZipLimits): Promise<ZipFile> {
  const zipfile = await openZip(filePath);
  if (zipfile.entryCount > limits.maxEntries) {
    zipfile.close();
    throw tooManyEntries(limits);
  }
  return zipfile;
}

function tooManyEntries(limits: ZipLimits): AppError {
  return unsafe(
    `The zip has more than ${limits.maxEntries} entries; split the package or remove unused files.`,
  );
}

function readableBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

function tooLarge(limits: ZipLimits): AppError {
  return unsafe(
    `The zip would unpack to more than ${readableBytes(limits.maxTotalUncompressedBytes)}; split the package or remove large files.`,
  );
}

function tooCompressed(entry: Entry, limits: ZipLimits): AppError {
  return unsafe(
    `The entry "${entryLabel(entry)}" expands more than ${limits.maxRatio} times, like a zip bomb; remove it or store it uncompressed.`,
    entryLabel(entry),
  );
}

interface DirectoryEntry {
  path: string;
  isDirectory: boolean;
  localHeaderOffset: number;
  compressedSize: number;
}

// A loop, not /\/+$/: names are attacker-chosen and that regex backtracks quadratically.
function withoutTrailingSlashes(name: string): string {
  let end = name.length;
  while (end > 0 && name[end - 1] === '/') end -= 1;
  return name.slice(0, end);
}

/** Validates one central directory record and returns its normalised path. */
function checkRecord(entry: Entry, limits: ZipLimits): DirectoryEntry {
  const name = entry.fileName;
  const label = entryLabel(entry);
  const isDirectory = name.endsWith('/');
  let path: string;
  try {
    path = normaliseLessonPath(isDirectory ? withoutTrailingSlashes(name) : name);
  } catch (err) {
    const reason = err instanceof AppError ? err.message : 'it is not a valid path';
    throw unsafe(`The entry "${label}" has an unsafe name. ${reason}`, label);
  }
  // A symbolic link unpacked first lets a later entry write through it, outside the folder.
  const madeOnUnix = entry.versionMadeBy >> 8 === 3;
  if (madeOnUnix && ((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK) {
    throw unsafe(
      `The entry "${label}" is a symbolic link; packages may only contain files.`,
      label,
    );
  }
  checkEncoding(entry);
  if (
    entry.uncompressedSize > RATIO_EXEMPT_BYTES &&
    entry.uncompressedSize / Math.max(entry.compressedSize, 1) > limits.maxRatio
  ) {
    throw tooCompressed(entry, limits);
  }
  return {
    path,
    isDirectory,
    localHeaderOffset: entry.relativeOffsetOfLocalHeader,
    compressedSize: entry.compressedSize,
  };
}

/**
 * Names that would overwrite each other when unpacked: the same path twice (case-insensitively,
 * since Windows and macOS file systems fold case) or a file where another entry needs a folder.
 */
function checkCollisions(records: DirectoryEntry[]): void {
  const seen = new Map<string, DirectoryEntry>();
  for (const record of records) {
    const key = record.path.toLowerCase();
    if (seen.has(key)) {
      throw unsafe(
        `The zip contains "${record.path}" more than once; remove the duplicate.`,
        record.path,
      );
    }
    seen.set(key, record);
  }
  for (const record of records) {
    const segments = record.path.toLowerCase().split('/');
    for (let depth = 1; depth < segments.length; depth++) {
      const parent = seen.get(segments.slice(0, depth).join('/'));
      if (parent && !parent.isDirectory) {
        throw unsafe(
          `The zip uses "${parent.path}" both as a file and as a folder; rename one of them.`,
          parent.path,
        );
      }
    }
  }
}

/**
 * Several directory records pointing into the same bytes is how the densest zip bombs are made
 * (one compressed kernel counted thousands of times); honest archives never overlap. A local
 * header is at least 30 bytes, so each entry spans at least 30 + compressedSize bytes.
 */
function checkOverlap(records: DirectoryEntry[]): void {
  const byOffset = [...records].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1];
    if (previous.localHeaderOffset + 30 + previous.compressedSize > byOffset[i].localHeaderOffset) {
      throw unsafe(
        `The entries "${previous.path}" and "${byOffset[i].path}" overlap, like a zip bomb; rebuild the zip with a standard tool.`,
        byOffset[i].path,
      );
    }
  }
}

function hasIndexHtml(records: DirectoryEntry[]): boolean {
  const files = records
    .filter((r) => !r.isDirectory)
    .map((r) => r.path)
    .filter((p) => !ARCHIVER_DROPPINGS.has(p.split('/')[0].toLowerCase()));
  if (files.includes('index.html')) return true;
  const topLevel = new Set(files.map((p) => (p.includes('/') ? p.split('/')[0] : '')));
  const [only] = [...topLevel];
  return topLevel.size === 1 && only !== '' && files.includes(`${only}/index.html`);
}

/**
 * Checks a ZIP package: names, encryption, entry count, declared sizes and ratios from the
 * central directory, then a real inflate (`inflateCheck`). Throws `zip_unsafe` naming the
 * offending entry when it can.
 */
export async function checkZipPackage(
  filePath: string,
  limits: ZipLimits = DEFAULT_ZIP_LIMITS,
): Promise<ZipSummary> {
  const zipfile = await openWithinEntryLimit(filePath, limits);
  const records: DirectoryEntry[] = [];
  let declaredTotal = 0;
  let compressedTotal = 0;
  await walkEntries(zipfile, (entry) => {
    records.push(checkRecord(entry, limits));
    declaredTotal += entry.uncompressedSize;
    compressedTotal += entry.compressedSize;
    if (declaredTotal > limits.maxTotalUncompressedBytes) throw tooLarge(limits);
  });
  // Many entries each just under the per-entry exemption still add up to a bomb.
  if (
    declaredTotal > RATIO_EXEMPT_BYTES &&
    declaredTotal / Math.max(compressedTotal, 1) > limits.maxRatio
  ) {
    throw unsafe(
      `The zip expands more than ${limits.maxRatio} times its size, like a zip bomb; rebuild it without the padding files.`,
    );
  }
  checkCollisions(records);
  checkOverlap(records);
  const inflated = await inflateCheck(filePath, limits);
  return {
    entries: inflated.entries,
    uncompressedBytes: inflated.uncompressedBytes,
    hasIndexHtml: hasIndexHtml(records),
  };
}
