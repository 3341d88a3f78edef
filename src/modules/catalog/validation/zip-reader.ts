import * as yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { AppError } from '../../../common/errors/app-error';

/**
 * Promise wrappers around yauzl's callbacks and events. Their one job besides translation:
 * whatever the archive contains, every failure ends as a rejection (never an uncaught
 * exception or unhandled rejection) and the archive is always closed.
 */

/** A `zip_unsafe` error; `entry` (already bounded with `shown`) names the offending entry. */
export function unsafe(message: string, entry?: string): AppError {
  const detail =
    entry === undefined ? { field: 'file', message } : { field: 'file', entry, message };
  return new AppError('zip_unsafe', message, [detail]);
}

/**
 * yauzl reports corrupt archives, unsafe names and lying sizes as plain errors: all of them are
 * the uploader's fault. System errors (the file we wrote is missing) are ours and pass through.
 */
function fromYauzl(err: unknown): Error {
  if (err instanceof AppError) return err;
  // Duck-typed rather than `instanceof Error`: errors from Node's core (fs, zlib) may come from
  // another realm (Jest's sandbox, worker threads).
  const fields = typeof err === 'object' && err !== null ? (err as Record<string, unknown>) : {};
  // Node system errors carry `syscall`; zlib's (Z_DATA_ERROR) do not and are the archive's fault.
  if (typeof fields.syscall === 'string') return err as Error;
  const text = typeof fields.message === 'string' ? fields.message : String(err);
  const name =
    /^(?:absolute path|invalid relative path|invalid characters in fileName): (.*)$/s.exec(text);
  if (name) {
    return unsafe(
      `The entry "${shown(name[1])}" would be unpacked outside the package folder; rebuild the zip with relative paths only.`,
      shown(name[1]),
    );
  }
  if (/too many bytes|not enough bytes|size mismatch/.test(text)) {
    return unsafe(
      'The sizes recorded in the zip do not match its contents; rebuild the zip with a standard tool.',
    );
  }
  return unsafe(
    `The file is not a readable zip archive (${text}); rebuild it with a standard zip tool and upload it again.`,
  );
}

export function openZip(filePath: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(
      filePath,
      { lazyEntries: true, autoClose: true, validateEntrySizes: true, strictFileNames: false },
      (err, zipfile) => {
        if (err) return reject(fromYauzl(err));
        // Until walkEntries listens, an error (a failed close after an early refusal) would
        // have no listener and crash the process; walkEntries reports the ones that matter.
        zipfile.on('error', () => undefined);
        resolve(zipfile);
      },
    );
  });
}

/**
 * Visits the entries one at a time and always closes the archive. The error listener stays
 * attached after settling: yauzl may still emit (a failed close, say), and an 'error' event
 * without a listener would crash the process.
 */
export function walkEntries(
  zipfile: ZipFile,
  visit: (entry: Entry) => Promise<void> | void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err: unknown, failed: boolean): void => {
      if (settled) return;
      settled = true;
      zipfile.close();
      if (failed) reject(fromYauzl(err));
      else resolve();
    };
    const fail = (err: unknown): void => settle(err, true);
    zipfile.on('error', fail);
    zipfile.on('end', () => settle(undefined, false));
    zipfile.on('entry', (entry: Entry) => {
      Promise.resolve()
        .then(() => visit(entry))
        .then(() => {
          if (!settled) zipfile.readEntry();
        })
        .catch(fail);
    });
    zipfile.readEntry();
  });
}

/** Inflates one entry and counts its bytes; `onBytes` throws to abort as soon as a limit is hit. */
export function drainEntry(
  zipfile: ZipFile,
  entry: Entry,
  onBytes: (count: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    zipfile.openReadStream(entry, (err, stream) => {
      if (err) return reject(fromYauzl(err));
      let done = false;
      const fail = (cause: unknown): void => {
        if (done) return;
        done = true;
        stream.destroy();
        reject(fromYauzl(cause));
      };
      stream.on('error', fail);
      stream.on('data', (chunk: Buffer) => {
        try {
          onBytes(chunk.length);
        } catch (limitHit) {
          fail(limitHit);
        }
      });
      stream.on('end', () => {
        done = true;
        resolve();
      });
    });
  });
}

/** Entry names are attacker-chosen and may be 64 KiB long: echo a bounded prefix. */
export function shown(name: string): string {
  return name.length > 200 ? `${name.slice(0, 200)}…` : name;
}

export function entryLabel(entry: Entry): string {
  return shown(entry.fileName);
}
