import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppError } from '../../common/errors/app-error';
import { Page, PageQuery, page } from '../../common/http/pagination';
import { JobHandlers } from '../../jobs/job-handlers';
import { JobPayloads } from '../../jobs/job-types';
import { JobsService } from '../../jobs/jobs.service';
import { AuthService } from '../auth/auth.service';
import { Principal } from '../auth/principal';
import { RegionsService } from '../regions/regions.service';
import { SchoolEventsService } from '../schools/school-events.service';
import { ProposalView } from './assignments.dto';
import {
  CandidateIndex,
  MatchSchool,
  Proposal,
  ProposedAssignment,
  assignmentsFor,
  gapKey,
  matchSchool,
} from './matching';
import { GapSchoolRow, MatchingRepository } from './matching.repository';
import { holdBulkWrite } from '../../database/bulk-write';

const BATCH = 1000;
const WRITERS = 2;
const RESULT_PROPOSALS = 1000;

export interface MatchResult {
  dryRun: boolean;
  gaps: number;
  filled: number;
  created: number;
  proposals: ProposalView[];
  proposalsTotal: number;
}

const toView = (p: Proposal): ProposalView => ({
  schoolId: p.schoolId,
  subject: p.subject,
  grade: p.grade,
  ...(p.candidate.lessonId ? { lessonId: p.candidate.lessonId } : {}),
  ...(p.candidate.courseId ? { courseId: p.candidate.courseId } : {}),
  score: p.candidate.score,
  reason: p.candidate.reason,
});

/**
 * Fills teacher gaps across a region (or everything the caller sees) in batches of schools, so
 * 64,000 schools never sit in memory at once. Proposals are stored for paging in both modes.
 */
@Injectable()
export class MatchingService implements OnModuleInit {
  private readonly logger = new Logger(MatchingService.name);

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly jobs: JobsService,
    private readonly handlers: JobHandlers,
    private readonly auth: AuthService,
    private readonly regions: RegionsService,
    private readonly events: SchoolEventsService,
    private readonly repo: MatchingRepository,
  ) {}

  onModuleInit(): void {
    this.handlers.register('assignments.match', (payload, ctx) =>
      this.run(payload, ctx.jobId, (n) => ctx.progress(n)),
    );
  }

  async start(
    p: Principal,
    regionId: string | undefined,
    dryRun: boolean,
  ): Promise<{ jobId: string }> {
    if (regionId && !(await this.regions.canSee(p, regionId))) throw AppError.notFound('Region');
    const jobId = await this.jobs.enqueue(
      'assignments.match',
      { regionId: regionId ?? null, dryRun, userId: p.id },
      { userId: p.id },
    );
    return { jobId };
  }

  async run(
    payload: JobPayloads['assignments.match'],
    jobId: string,
    progress: (percent: number) => Promise<void>,
  ): Promise<MatchResult> {
    const p = await this.auth.principalOf(payload.userId);
    const scope = await this.regions.scopePath(p);
    const region = payload.regionId ? await this.regions.findById(payload.regionId) : null;
    const paths = [scope, region?.path ?? null].filter((x): x is string => x !== null);
    const index = new CandidateIndex(await this.repo.publishedLessons(), await this.repo.courses());
    const total = await this.repo.countGapSchools(paths);
    await this.repo.clearProposals(jobId);
    const result: MatchResult = {
      dryRun: payload.dryRun,
      gaps: 0,
      filled: 0,
      created: 0,
      proposals: [],
      proposalsTotal: 0,
    };
    // Batches are written while the next ones are read and matched, on WRITERS connections:
    // PostgreSQL checks each row's foreign keys and indexes on more than one core, Node matches.
    const writer = new Overlapped(WRITERS);
    let after = '00000000-0000-0000-0000-000000000000';
    let written = 0;
    const startedAt = performance.now();
    // Where the time goes, for the log (writing overlaps reading and matching).
    const ms = { read: 0, match: 0, write: 0, waitForWrite: 0 };
    let t = performance.now();
    const peakMem: Record<string, number> = {};
    const lap = (phase: keyof typeof ms) => {
      const now = performance.now();
      ms[phase] += now - t;
      t = now;
    };
    // The coverage rollup waits while this writes: it would only compete for the same cores.
    const releaseBulkWrite = await holdBulkWrite(this.ds);
    try {
      for (;;) {
        const rows = await this.repo.gapSchoolsAfter(paths, after, BATCH);
        lap('read');
        if (rows.length === 0) break;
        after = rows[rows.length - 1].id;
        const proposals: Proposal[] = [];
        // Only what the batch's assignments are made from is kept while it is written.
        const assigned = new Map<string, string[]>();
        for (const row of rows) {
          const school = toMatchSchool(row, index);
          result.gaps += school.gaps.length;
          result.filled += school.gaps.filter((g) =>
            school.covered.has(gapKey(g.subject, g.grade)),
          ).length;
          const made = matchSchool(index, school);
          for (const prop of made) proposals.push(prop);
          if (made.length > 0 && row.assigned.length > 0) assigned.set(row.id, row.assigned);
        }
        result.filled += proposals.length;
        for (const prop of proposals) {
          if (result.proposals.length >= RESULT_PROPOSALS) break;
          result.proposals.push(toView(prop));
        }
        const offset = result.proposalsTotal;
        result.proposalsTotal += proposals.length;
        const schools = rows.length;
        lap('match');
        await writer.add(async () => {
          const started = performance.now();
          const w = await this.write(jobId, offset, proposals, assigned, payload.dryRun, p.id);
          ms.write += performance.now() - started;
          result.created += w.created;
          written += schools;
          // Need changes are recorded with each batch; their folds (and the packaging plans after
          // them) are held back until about when the matching will be done, so planning
          // thousands of schools does not compete with it. Writing is the slow part, so the pace
          // is taken from what has been written.
          const hold = holdSeconds(performance.now() - startedAt, written, total);
          await this.events.scheduleAfter(w.schoolIds, hold);
        });
        lap('waitForWrite');
        const mu = process.memoryUsage();
        for (const k of ['rss', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers'] as const) {
          peakMem[k] = Math.max(peakMem[k] ?? 0, Math.round(mu[k] / 1048576));
        }
        await progress((written / Math.max(1, total)) * 99);
      }
      await writer.drain();
      lap('waitForWrite');
    } finally {
      await writer.settle();
      await releaseBulkWrite();
    }
    const millis = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v)]));
    this.logger.log(
      { jobId, ...result, proposals: undefined, millis, peakMem },
      'gap matching done',
    );
    return result;
  }

  /** One batch in one transaction: its proposals, and when applying, its assignments. */
  private write(
    jobId: string,
    offset: number,
    proposals: Proposal[],
    assigned: Map<string, string[]>,
    dryRun: boolean,
    userId: string,
  ): Promise<{ created: number; schoolIds: string[] }> {
    return this.ds.transaction(async (em) => {
      // Each batch is a few megabytes of WAL; its commit need not wait for the disk. Should
      // PostgreSQL itself crash, the last batches committed in the fraction of a second before
      // may be lost; they are derived from the schools' gaps, and the next matching makes them
      // again.
      await em.query(`SET LOCAL synchronous_commit = off`);
      await this.repo.storeProposals(em, jobId, offset, proposals);
      if (dryRun) return { created: 0, schoolIds: [] };
      const made = await this.repo.createGapAssignments(
        em,
        () => batchAssignments(proposals, assigned),
        userId,
      );
      await this.events.record(made.schoolIds, 'assignment.created', { via: 'gap-match' }, em);
      return made;
    });
  }

  async proposals(p: Principal, jobId: string, query: PageQuery): Promise<Page<ProposalView>> {
    await this.jobs.view(p, jobId);
    const rows = await this.repo.proposalsPage(
      jobId,
      query.pageSize,
      (query.page - 1) * query.pageSize,
    );
    return page(
      rows.map((r) => ({
        schoolId: r.school_id,
        subject: r.subject,
        grade: r.grade,
        ...(r.lesson_id ? { lessonId: r.lesson_id } : {}),
        ...(r.course_id ? { courseId: r.course_id } : {}),
        score: r.score,
        reason: r.reason,
      })),
      rows[0]?.total ?? 0,
      query,
    );
  }
}

/** The assignments applying a batch's proposals makes, school by school (proposals come so). */
function* batchAssignments(
  proposals: Proposal[],
  assigned: Map<string, string[]>,
): Generator<ProposedAssignment> {
  for (let i = 0, j = 0; i < proposals.length; i = j) {
    const schoolId = proposals[i].schoolId;
    while (j < proposals.length && proposals[j].schoolId === schoolId) j++;
    yield* assignmentsFor(proposals.slice(i, j), new Set(assigned.get(schoolId)));
  }
}

/** The time the rest of the schools will take at the pace so far, with a margin. */
function holdSeconds(elapsedMs: number, done: number, total: number): number {
  const left = Math.max(0, total - done);
  return Math.min(3600, Math.ceil((1.5 * elapsedMs * left) / Math.max(1, done) / 1000));
}

/** A school row as the pure matching sees it: what its live assignments already cover and use. */
function toMatchSchool(row: GapSchoolRow, index: CandidateIndex): MatchSchool {
  const covered = new Set<string>();
  let usedBytes = 0;
  for (const lessonId of row.assigned) {
    const lesson = index.lessons.get(lessonId);
    if (!lesson) continue;
    usedBytes += lesson.bytes;
    for (const grade of lesson.grades) covered.add(gapKey(lesson.subject, grade));
  }
  return {
    id: row.id,
    languages: row.languages,
    capacityBytes: row.storageCapacityMb * 1024 * 1024,
    usedBytes,
    gaps: row.gaps.map((g) => {
      const [subject, grade] = g.split(':');
      return { subject, grade: Number(grade) };
    }),
    covered,
  };
}

/**
 * Runs up to `limit` async steps at once while the caller prepares the next: `add` waits for a
 * free place and starts the step. The first failure fails the next `add` or `drain`; `settle`
 * waits for whatever still runs, so nothing is left writing after the caller gave up.
 */
class Overlapped {
  private readonly running = new Set<Promise<void>>();
  private failure: { err: unknown } | null = null;

  constructor(private readonly limit: number) {}

  async add(step: () => Promise<void>): Promise<void> {
    this.rethrow();
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.rethrow();
    const run: Promise<void> = step()
      .catch((err: unknown) => {
        this.failure ??= { err };
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    this.rethrow();
  }

  async settle(): Promise<void> {
    await Promise.all(this.running);
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.err;
  }
}
