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
  CatalogCourse,
  CatalogLesson,
  MatchSchool,
  Proposal,
  gapKey,
  matchSchool,
} from './matching';

const BATCH = 2000;
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
    const index = new CandidateIndex(await this.loadLessons(), await this.loadCourses());
    const [{ total }] = await this.ds.query<{ total: number }[]>(
      `SELECT count(*)::int AS total FROM school s JOIN region r ON r.id = s.region_id
       WHERE r.path LIKE ALL($1::text[]) AND EXISTS (SELECT 1 FROM school_gap g WHERE g.school_id = s.id)`,
      [paths.map((x) => `${x}%`)],
    );
    await this.ds.query(`DELETE FROM match_proposal WHERE job_id = $1`, [jobId]);
    const result: MatchResult = {
      dryRun: payload.dryRun,
      gaps: 0,
      filled: 0,
      created: 0,
      proposals: [],
      proposalsTotal: 0,
    };
    let after = '00000000-0000-0000-0000-000000000000';
    let done = 0;
    // Need changes are recorded with each batch but fanned out once the matching is done, so
    // planning thousands of schools does not compete with the matching itself.
    const changed = new Set<string>();
    for (;;) {
      const schools = await this.loadSchools(paths, after, index);
      if (schools.length === 0) break;
      after = schools[schools.length - 1].id;
      const proposals = schools.flatMap((s) => matchSchool(index, s));
      for (const s of schools) {
        result.gaps += s.gaps.length;
        result.filled += s.gaps.filter((g) => s.covered.has(gapKey(g.subject, g.grade))).length;
      }
      result.filled += proposals.length;
      await this.store(jobId, result.proposalsTotal, proposals);
      for (const prop of proposals) {
        if (result.proposals.length < RESULT_PROPOSALS) result.proposals.push(toView(prop));
      }
      result.proposalsTotal += proposals.length;
      if (!payload.dryRun) result.created += await this.apply(proposals, p.id, changed);
      done += schools.length;
      await progress((done / Math.max(1, total)) * 99);
    }
    await this.events.schedule([...changed]);
    this.logger.log({ jobId, ...result, proposals: undefined }, 'gap matching done');
    return result;
  }

  async proposals(p: Principal, jobId: string, query: PageQuery): Promise<Page<ProposalView>> {
    await this.jobs.view(p, jobId);
    const rows = await this.ds.query<
      {
        school_id: string;
        subject: string;
        grade: number;
        lesson_id: string | null;
        course_id: string | null;
        score: number;
        reason: string;
        total: number;
      }[]
    >(
      `SELECT *, count(*) OVER ()::int AS total FROM match_proposal WHERE job_id = $1
       ORDER BY seq LIMIT $2 OFFSET $3`,
      [jobId, query.pageSize, (query.page - 1) * query.pageSize],
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

  private async loadLessons(): Promise<CatalogLesson[]> {
    const rows = await this.ds.query<
      {
        id: string;
        subject: string;
        grades: number[];
        language: string;
        teacherless_ready: boolean;
        published_at: Date;
        bytes: string;
      }[]
    >(
      `SELECT l.id, l.subject, l.grades, l.language, l.teacherless_ready, lv.published_at,
              coalesce((SELECT sum(f.size) FROM lesson_file f
                        WHERE f.lesson_id = l.id AND f.version = l.published_version), 0) AS bytes
       FROM lesson l JOIN lesson_version lv ON lv.lesson_id = l.id AND lv.version = l.published_version
       WHERE l.status = 'active' AND l.published_version IS NOT NULL`,
    );
    return rows.map((r) => ({
      id: r.id,
      subject: r.subject,
      grades: r.grades,
      language: r.language,
      teacherlessReady: r.teacherless_ready,
      publishedAt: r.published_at.getTime(),
      bytes: Number(r.bytes),
    }));
  }

  private async loadCourses(): Promise<CatalogCourse[]> {
    const rows = await this.ds.query<
      { id: string; subject: string; grade: number; lesson_ids: string[] }[]
    >(`SELECT id, subject, grade, lesson_ids FROM course`);
    return rows.map((r) => ({
      id: r.id,
      subject: r.subject,
      grade: r.grade,
      lessonIds: r.lesson_ids,
    }));
  }

  private async loadSchools(
    paths: string[],
    after: string,
    index: CandidateIndex,
  ): Promise<MatchSchool[]> {
    const rows = await this.ds.query<
      {
        id: string;
        languages: string[];
        storage_capacity_mb: number;
        gaps: string[];
        assigned: string[] | null;
      }[]
    >(
      `SELECT s.id, s.languages, s.storage_capacity_mb,
              (SELECT array_agg(g.subject || ':' || g.grade) FROM school_gap g WHERE g.school_id = s.id) AS gaps,
              (SELECT array_agg(a.lesson_id) FROM assignment a
               WHERE a.school_id = s.id AND a.revoked_at IS NULL) AS assigned
       FROM school s JOIN region r ON r.id = s.region_id
       WHERE s.id > $1 AND r.path LIKE ALL($2::text[])
         AND EXISTS (SELECT 1 FROM school_gap g WHERE g.school_id = s.id)
       ORDER BY s.id LIMIT $3`,
      [after, paths.map((x) => `${x}%`), BATCH],
    );
    return rows.map((r) => {
      const covered = new Set<string>();
      let usedBytes = 0;
      for (const lessonId of r.assigned ?? []) {
        const lesson = index.lessons.get(lessonId);
        if (!lesson) continue;
        usedBytes += lesson.bytes;
        for (const grade of lesson.grades) covered.add(gapKey(lesson.subject, grade));
      }
      return {
        id: r.id,
        languages: r.languages,
        capacityBytes: r.storage_capacity_mb * 1024 * 1024,
        usedBytes,
        gaps: r.gaps.map((g) => {
          const [subject, grade] = g.split(':');
          return { subject, grade: Number(grade) };
        }),
        covered,
      };
    });
  }

  private async store(jobId: string, offset: number, proposals: Proposal[]): Promise<void> {
    if (proposals.length === 0) return;
    await this.ds.query(
      `INSERT INTO match_proposal (job_id, seq, school_id, subject, grade, lesson_id, course_id, score, reason)
       SELECT $1, * FROM unnest($2::int[], $3::uuid[], $4::text[], $5::int[], $6::uuid[], $7::uuid[], $8::real[], $9::text[])`,
      [
        jobId,
        proposals.map((_, i) => offset + i + 1),
        proposals.map((x) => x.schoolId),
        proposals.map((x) => x.subject),
        proposals.map((x) => x.grade),
        proposals.map((x) => x.candidate.lessonId),
        proposals.map((x) => x.candidate.courseId),
        proposals.map((x) => x.candidate.score),
        proposals.map((x) => x.candidate.reason),
      ],
    );
  }

  private async apply(
    proposals: Proposal[],
    userId: string,
    changed: Set<string>,
  ): Promise<number> {
    const rows = proposals.flatMap((x) =>
      x.candidate.lessonIds.map((lessonId) => ({
        schoolId: x.schoolId,
        lessonId,
        courseId: x.candidate.courseId,
        reason: `gap ${x.subject} grade ${x.grade}: ${x.candidate.reason}`,
        score: x.candidate.score,
      })),
    );
    if (rows.length === 0) return 0;
    const created = await this.ds.transaction(async (em) => {
      const inserted = await em.query<{ school_id: string }[]>(
        `INSERT INTO assignment (school_id, lesson_id, course_id, source, reason, score, created_by)
         SELECT x.s, x.l, x.c, 'gap-match', x.r, x.sc, $6::uuid
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::real[]) AS x(s, l, c, r, sc)
         ON CONFLICT (school_id, lesson_id) WHERE revoked_at IS NULL DO NOTHING
         RETURNING school_id`,
        [
          rows.map((r) => r.schoolId),
          rows.map((r) => r.lessonId),
          rows.map((r) => r.courseId),
          rows.map((r) => r.reason),
          rows.map((r) => r.score),
          userId,
        ],
      );
      const schools = [...new Set(inserted.map((r) => r.school_id))];
      await this.events.record(schools, 'assignment.created', { via: 'gap-match' }, em);
      return { count: inserted.length, schools };
    });
    created.schools.forEach((id) => changed.add(id));
    return created.count;
  }
}
