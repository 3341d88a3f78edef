import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error';
import { ENV, Env } from '../../config/env';
import { Principal } from '../auth/principal';
import { MetricsService } from '../metrics/metrics.service';
import { StagedFile } from '../storage/blob-store';
import { StorageService } from '../storage/storage.service';
import { Lesson } from './catalog.entities';
import { FileView } from './lessons.dto';
import { LessonsRepository } from './lessons.repository';
import { LessonsService } from './lessons.service';
import { checkMediaType } from './validation/media-type';
import { normaliseLessonPath } from './validation/lesson-path';
import { checkZipPackage } from './validation/zip-check';

export interface IngestRequest {
  lessonId: string;
  path: string;
  fileName: string;
  declaredType?: string;
  kind: 'multipart' | 'tus';
}

/**
 * Turns staged bytes into a file of a lesson's draft: checks type, path, package safety and the
 * bureau's quota before the blob becomes visible, so a rejected upload leaves nothing behind.
 */
@Injectable()
export class IngestService {
  private readonly logger = new Logger(IngestService.name);

  constructor(
    private readonly lessons: LessonsService,
    private readonly repo: LessonsRepository,
    private readonly storage: StorageService,
    private readonly metrics: MetricsService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  get maxFileBytes(): number {
    return this.env.uploadMaxFileBytes;
  }

  /** Checks that can run before any byte arrives: the lesson is writable, the path valid, room left. */
  async precheck(
    p: Principal,
    lessonId: string,
    rawPath: string,
    declaredSize?: number,
  ): Promise<{ lesson: Lesson; path: string }> {
    const lesson = await this.lessons.writable(p, lessonId);
    const path = normaliseLessonPath(rawPath);
    if (declaredSize !== undefined) {
      if (declaredSize > this.env.uploadMaxFileBytes) throw this.tooLarge();
      const usage = await this.repo.bureauUsage(lesson.bureauId);
      if (usage + declaredSize > this.env.bureauQuotaBytes) throw this.overQuota(usage);
    }
    return { lesson, path };
  }

  async accept(
    p: Principal,
    req: IngestRequest,
    staged: StagedFile,
  ): Promise<{ file: FileView; replaced: boolean }> {
    try {
      const { lesson, path } = await this.precheck(p, req.lessonId, req.path);
      // Both the name the client sent and the path the file will live under must fit the bytes.
      const sniffed = checkMediaType(staged.head, path, req.declaredType);
      if (req.fileName && req.fileName !== path) checkMediaType(staged.head, req.fileName);
      if (sniffed.mediaType === 'application/zip') {
        await checkZipPackage(staged.path, {
          maxEntries: this.env.zipMaxEntries,
          maxTotalUncompressedBytes: this.env.zipMaxUncompressedBytes,
          maxRatio: this.env.zipMaxRatio,
        });
      }
      if (!(await this.repo.bureauHasBlob(lesson.bureauId, staged.sha256))) {
        const usage = await this.repo.bureauUsage(lesson.bureauId);
        if (usage + staged.size > this.env.bureauQuotaBytes) throw this.overQuota(usage);
      }
      await this.storage.commit(staged, sniffed.mediaType);
      const { replaced } = await this.repo.putDraftFile(lesson.id, {
        path,
        sha256: staged.sha256,
        size: staged.size,
        mediaType: sniffed.mediaType,
      });
      this.metrics.uploadedBytes.inc({ kind: req.kind }, staged.size);
      this.logger.log(
        { lessonId: lesson.id, path, size: staged.size, sha256: staged.sha256, via: req.kind },
        'file added to draft',
      );
      return {
        file: {
          path,
          size: staged.size,
          sha256: staged.sha256,
          mediaType: sniffed.mediaType,
          renditions: [],
        },
        replaced,
      };
    } finally {
      // Committed files have moved away; anything still staged was rejected.
      await this.storage.discard(staged);
    }
  }

  private tooLarge(): AppError {
    const mb = Math.floor(this.env.uploadMaxFileBytes / (1024 * 1024));
    return new AppError(
      'payload_too_large',
      `A file may be at most ${mb} MB; split or compress it`,
    );
  }

  private overQuota(usage: number): AppError {
    const gb = (n: number) => (n / 1024 ** 3).toFixed(2);
    return new AppError(
      'quota_exceeded',
      `The bureau's storage quota is full (${gb(usage)} of ${gb(this.env.bureauQuotaBytes)} GB); retire old lessons or ask an admin for more`,
    );
  }
}
