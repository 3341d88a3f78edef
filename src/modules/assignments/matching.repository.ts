import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { copyIn, copyText } from '../../database/copy-in';
import { TimeOrderedIds } from '../../database/time-ordered-ids';
import type { CatalogCourse, CatalogLesson, Proposal, ProposedAssignment } from './matching';

/** One school with teacher gaps, as matching reads it. */
export interface GapSchoolRow {
  id: string;
  languages: string[];
  storageCapacityMb: number;
  /** `subject:grade` */
  gaps: string[];
  /** Lessons of its live assignments. */
  assigned: string[];
}

export interface StoredProposal {
  school_id: string;
  subject: string;
  grade: number;
  lesson_id: string | null;
  course_id: string | null;
  score: number;
  reason: string;
  total: number;
}

/** Rows per chunk handed to COPY: big enough to stream fast, small enough to stay flat. */
const COPY_CHUNK_ROWS = 1000;

function* chunked<T>(items: Iterable<T>, line: (item: T) => string): Generator<string> {
  let chunk = '';
  let rows = 0;
  for (const item of items) {
    chunk += line(item);
    if (++rows === COPY_CHUNK_ROWS) {
      yield chunk;
      chunk = '';
      rows = 0;
    }
  }
  if (rows > 0) yield chunk;
}

const isUniqueViolation = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';

/** The reads and the bulk writes of teacher-gap matching. */
@Injectable()
export class MatchingRepository {
  /** Time-ordered, so tens of thousands of new rows append to the primary key index. */
  private readonly ids = new TimeOrderedIds();

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async publishedLessons(): Promise<CatalogLesson[]> {
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

  async courses(): Promise<CatalogCourse[]> {
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

  /** Schools with at least one gap inside every one of `paths` (region path prefixes). */
  async countGapSchools(paths: string[]): Promise<number> {
    const [{ total }] = await this.ds.query<{ total: number }[]>(
      `SELECT count(*)::int AS total FROM school s JOIN region r ON r.id = s.region_id
       WHERE r.path LIKE ALL($1::text[]) AND EXISTS (SELECT 1 FROM school_gap g WHERE g.school_id = s.id)`,
      [paths.map((x) => `${x}%`)],
    );
    return total;
  }

  /** The next `limit` of those schools in id order after `after`, with their gaps and lessons. */
  async gapSchoolsAfter(paths: string[], after: string, limit: number): Promise<GapSchoolRow[]> {
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
      [after, paths.map((x) => `${x}%`), limit],
    );
    return rows.map((r) => ({
      id: r.id,
      languages: r.languages,
      storageCapacityMb: r.storage_capacity_mb,
      gaps: r.gaps,
      assigned: r.assigned ?? [],
    }));
  }

  async clearProposals(jobId: string): Promise<void> {
    await this.ds.query(`DELETE FROM match_proposal WHERE job_id = $1`, [jobId]);
  }

  async proposalsPage(jobId: string, limit: number, offset: number): Promise<StoredProposal[]> {
    return this.ds.query<StoredProposal[]>(
      `SELECT *, count(*) OVER ()::int AS total FROM match_proposal WHERE job_id = $1
       ORDER BY seq LIMIT $2 OFFSET $3`,
      [jobId, limit, offset],
    );
  }

  /** Proposals numbered from `offset + 1`, in the caller's transaction. */
  async storeProposals(
    em: EntityManager,
    jobId: string,
    offset: number,
    proposals: Proposal[],
  ): Promise<void> {
    if (proposals.length === 0) return;
    const job = copyText(jobId);
    let seq = offset;
    await copyIn(
      em,
      `COPY match_proposal (job_id, seq, school_id, subject, grade, lesson_id, course_id, score, reason) FROM STDIN`,
      chunked(
        proposals,
        (p) =>
          `${job}\t${++seq}\t${p.schoolId}\t${copyText(p.subject)}\t${p.grade}\t` +
          `${copyText(p.candidate.lessonId)}\t${copyText(p.candidate.courseId)}\t` +
          `${p.candidate.score}\t${copyText(p.candidate.reason)}\n`,
      ),
    );
  }

  /**
   * Stores new gap-match assignments in the caller's transaction and says how many were made
   * and for which schools. `rows` is read as COPY consumes it, so a big batch never sits in
   * memory as rows. The caller leaves out pairs it read as live; should another writer have
   * made one of them since, COPY stops at the unique index and the batch is written again
   * skipping the pairs that exist, as an INSERT would.
   */
  async createGapAssignments(
    em: EntityManager,
    rows: () => Iterable<ProposedAssignment>,
    userId: string,
  ): Promise<{ created: number; schoolIds: string[] }> {
    const schools = new Set<string>();
    await em.query('SAVEPOINT gap_assignments');
    try {
      const created = await copyIn(
        em,
        `COPY assignment (id, school_id, lesson_id, course_id, source, reason, score, created_by) FROM STDIN`,
        chunked(rows(), (r) => {
          schools.add(r.schoolId);
          return (
            `${this.ids.next()}\t${r.schoolId}\t${r.lessonId}\t${copyText(r.courseId)}\tgap-match\t` +
            `${copyText(r.reason)}\t${r.score}\t${userId}\n`
          );
        }),
      );
      await em.query('RELEASE SAVEPOINT gap_assignments');
      return { created, schoolIds: [...schools] };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      await em.query('ROLLBACK TO SAVEPOINT gap_assignments');
    }
    const all = [...rows()];
    const inserted = await em.query<{ school_id: string }[]>(
      `INSERT INTO assignment (id, school_id, lesson_id, course_id, source, reason, score, created_by)
       SELECT x.id, x.s, x.l, x.c, 'gap-match', x.r, x.sc, $7::uuid
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::real[])
            AS x(id, s, l, c, r, sc)
       ON CONFLICT (school_id, lesson_id) WHERE revoked_at IS NULL DO NOTHING
       RETURNING school_id`,
      [
        all.map(() => this.ids.next()),
        all.map((r) => r.schoolId),
        all.map((r) => r.lessonId),
        all.map((r) => r.courseId),
        all.map((r) => r.reason),
        all.map((r) => r.score),
        userId,
      ],
    );
    return { created: inserted.length, schoolIds: [...new Set(inserted.map((r) => r.school_id))] };
  }
}
