import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Request } from 'express';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { AppError } from '../../common/errors/app-error';
import { JobHandlers } from '../../jobs/job-handlers';
import { JobPayloads } from '../../jobs/job-types';
import { JobsService } from '../../jobs/jobs.service';
import { AuthService } from '../auth/auth.service';
import { Principal } from '../auth/principal';
import { readMultipartFile } from '../catalog/multipart';
import { RegionsService } from '../regions/regions.service';
import { StagedFile } from '../storage/blob-store';
import { StorageService } from '../storage/storage.service';
import {
  CsvFormatError,
  CsvHeaderError,
  CsvRejection,
  CsvSchoolRow,
  readSchoolCsv,
} from './csv/school-csv';
import { SchoolEventsService } from './school-events.service';
import { SchoolsRepository } from './schools.repository';

const MAX_CSV_BYTES = 256 * 1024 * 1024;
const BATCH = 1000;
/** The job result lists at most this many rejected rows; rejectedTotal counts them all. */
const MAX_REJECTED_LISTED = 10_000;

export interface ImportResult {
  rows: number;
  inserted: number;
  updated: number;
  rejected: CsvRejection[];
  rejectedTotal: number;
}

/**
 * CSV import of schools as a job: the file goes to the blob store, a worker streams it, upserts by
 * code in batches (each batch one transaction, so a row lands whole or not at all) and reports
 * per-row rejections with line numbers.
 */
@Injectable()
export class SchoolImportService implements OnModuleInit {
  private readonly logger = new Logger(SchoolImportService.name);

  constructor(
    private readonly storage: StorageService,
    private readonly jobs: JobsService,
    private readonly handlers: JobHandlers,
    private readonly auth: AuthService,
    private readonly regions: RegionsService,
    private readonly repo: SchoolsRepository,
    private readonly events: SchoolEventsService,
  ) {}

  onModuleInit(): void {
    this.handlers.register('schools.import', (payload, ctx) =>
      this.run(payload, (percent) => ctx.progress(percent)),
    );
  }

  /** Takes the upload (text/csv body or multipart `file`), checks its header, and queues the job. */
  async start(p: Principal, req: Request, charsetParam?: string): Promise<{ jobId: string }> {
    const contentType = req.headers['content-type'] ?? '';
    const charset = this.charset(charsetParam, contentType);
    let staged: StagedFile;
    if (/^multipart\/form-data/i.test(contentType)) {
      staged = (
        await readMultipartFile(
          req,
          (source) => this.storage.stage(source, { maxBytes: MAX_CSV_BYTES }),
          (s) => this.storage.discard(s),
        )
      ).staged;
    } else if (
      /^(text\/csv|text\/plain|application\/csv|application\/octet-stream)/i.test(contentType)
    ) {
      staged = await this.storage.stage(req, { maxBytes: MAX_CSV_BYTES });
    } else {
      throw new AppError(
        'unsupported_media_type',
        'Send the schools as text/csv, or as multipart/form-data with a field named "file"',
      );
    }
    try {
      await this.checkHeader(staged.path, charset);
      await this.storage.commit(staged, 'text/csv');
    } finally {
      await this.storage.discard(staged);
    }
    const jobId = await this.jobs.enqueue(
      'schools.import',
      { sha256: staged.sha256, size: staged.size, charset, userId: p.id },
      { userId: p.id },
    );
    return { jobId };
  }

  async run(
    payload: JobPayloads['schools.import'],
    progress: (percent: number) => Promise<void>,
  ): Promise<ImportResult> {
    const p = await this.auth.principalOf(payload.userId);
    const scopePath = await this.regions.scopePath(p);
    const regionCache = new Map<string, { id: string; path: string } | null>();
    const result: ImportResult = {
      rows: 0,
      inserted: 0,
      updated: 0,
      rejected: [],
      rejectedTotal: 0,
    };
    const reject = (r: CsvRejection) => {
      result.rejectedTotal += 1;
      if (result.rejected.length < MAX_REJECTED_LISTED) result.rejected.push(r);
    };
    let consumed = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        consumed += chunk.length;
        done(null, chunk);
      },
    });
    const source = (await this.storage.open(payload.sha256)).pipe(counter);
    let batch: CsvSchoolRow[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await this.land(batch, scopePath, regionCache, result, reject);
      batch = [];
      await progress(Math.min(99, (consumed / Math.max(1, payload.size)) * 100));
    };
    try {
      for await (const event of readSchoolCsv(source, { charset: payload.charset })) {
        result.rows += 1;
        if (event.kind === 'rejected') reject(event.rejection);
        else batch.push(event.row);
        if (batch.length >= BATCH) await flush();
      }
      await flush();
    } catch (err) {
      if (err instanceof CsvHeaderError || err instanceof CsvFormatError) {
        // What landed before a broken tail stays; the result says where reading stopped.
        await flush();
        reject({
          line: err instanceof CsvFormatError ? err.line : 1,
          reason: 'unreadable',
          message: err.message,
        });
        return result;
      }
      throw err;
    }
    this.logger.log({ ...result, rejected: undefined }, 'schools imported');
    return result;
  }

  private async land(
    rows: CsvSchoolRow[],
    scopePath: string | null,
    regionCache: Map<string, { id: string; path: string } | null>,
    result: ImportResult,
    reject: (r: CsvRejection) => void,
  ): Promise<void> {
    const missing = [...new Set(rows.map((r) => r.regionCode))].filter((c) => !regionCache.has(c));
    if (missing.length) {
      const found = await this.regions.findByCodes(missing);
      for (const code of missing) regionCache.set(code, found.get(code) ?? null);
    }
    const ready = rows.flatMap((row) => {
      const region = regionCache.get(row.regionCode);
      if (!region || (scopePath && !region.path.startsWith(scopePath))) {
        reject({
          line: row.line,
          code: row.fields.code,
          field: 'regionCode',
          reason: 'unknown_region',
        });
        return [];
      }
      return [{ row, regionId: region.id }];
    });
    const landed = await this.repo.transaction(async (em) => {
      const out = await this.repo.upsertBatch(
        em,
        ready.map((r) => ({ regionId: r.regionId, fields: r.row.fields })),
        scopePath,
      );
      await this.events.record(
        out.map((o) => o.id),
        'school.changed',
        { via: 'import' },
        em,
      );
      return out;
    });
    const landedCodes = new Set(landed.map((l) => l.code));
    for (const { row } of ready) {
      if (!landedCodes.has(row.fields.code)) {
        // The code belongs to a school outside the caller's regions: never overwritten.
        reject({ line: row.line, code: row.fields.code, field: 'code', reason: 'code_taken' });
      }
    }
    for (const l of landed) {
      if (l.inserted) result.inserted += 1;
      else result.updated += 1;
    }
    await this.events.schedule(landed.map((l) => l.id));
  }

  private async checkHeader(path: string, charset: 'utf-8' | 'gb18030'): Promise<void> {
    const source = createReadStream(path);
    try {
      const events = readSchoolCsv(source, { charset });
      await events.next();
      await events.return(undefined);
    } catch (err) {
      if (err instanceof CsvHeaderError) {
        throw new AppError(
          'csv_header_invalid',
          `${err.message}. Nothing was imported.`,
          err.problems.map((message) => ({ field: 'header', message })),
        );
      }
      if (err instanceof CsvFormatError) {
        throw new AppError('csv_unreadable', `${err.message}. Nothing was imported.`, [
          { field: 'file', message: err.message, line: err.line },
        ]);
      }
      throw err;
    } finally {
      source.destroy();
    }
  }

  private charset(param: string | undefined, contentType: string): 'utf-8' | 'gb18030' {
    const fromHeader = /charset=([^;]+)/i
      .exec(contentType)?.[1]
      ?.trim()
      .toLowerCase()
      .replace(/"/g, '');
    const chosen = (param ?? fromHeader ?? 'utf-8').toLowerCase();
    if (chosen === 'gb18030' || chosen === 'gbk' || chosen === 'gb2312') return 'gb18030';
    if (chosen === 'utf-8' || chosen === 'utf8') return 'utf-8';
    throw new AppError(
      'unsupported_media_type',
      `Charset ${chosen} is not supported; use utf-8 or gb18030`,
    );
  }
}
