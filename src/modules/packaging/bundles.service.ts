import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppError } from '../../common/errors/app-error';
import { Page, PageQuery, page } from '../../common/http/pagination';
import { ENV, Env } from '../../config/env';
import { JobsService } from '../../jobs/jobs.service';
import { Principal } from '../auth/principal';
import { RegionsService } from '../regions/regions.service';
import { SchoolsService } from '../schools/schools.service';
import { Bundle, BundleState } from './packaging.entities';

export interface BundleView {
  id: string;
  audience: { type: 'school' | 'group'; id: string };
  state: BundleState;
  progress: number;
  sourceBytes: number;
  bundleBytes: number | null;
  sha256: string | null;
  createdAt: string;
  lessons: { lessonId: string; version: number }[];
  schoolIds: string[];
  error?: string;
}

const LINK_TTL_SECONDS = 600;

@Injectable()
export class BundlesService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly regions: RegionsService,
    private readonly schools: SchoolsService,
    private readonly jobs: JobsService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async list(
    p: Principal,
    query: PageQuery & { schoolId?: string; state?: BundleState },
  ): Promise<Page<BundleView>> {
    if (query.schoolId) await this.schools.visible(p, query.schoolId);
    const scope = await this.regions.scopePath(p);
    const rows = await this.ds.query<(Record<string, unknown> & { total: number })[]>(
      `SELECT b.*, count(*) OVER ()::int AS total,
              ARRAY(SELECT s.school_id FROM bundle_school s WHERE s.bundle_id = b.id ORDER BY s.school_id) AS school_ids
       FROM bundle b
       WHERE ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM bundle_school s WHERE s.bundle_id = b.id AND s.school_id = $1))
         AND ($2::text IS NULL OR b.state = $2)
         AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM bundle_school s JOIN school sc ON sc.id = s.school_id
              JOIN region r ON r.id = sc.region_id WHERE s.bundle_id = b.id AND r.path LIKE $3 || '%'))
       ORDER BY b.created_at DESC, b.id LIMIT $4 OFFSET $5`,
      [
        query.schoolId ?? null,
        query.state ?? null,
        scope,
        query.pageSize,
        (query.page - 1) * query.pageSize,
      ],
    );
    return page(
      rows.map((r) => this.view(r)),
      rows[0]?.total ?? 0,
      query,
    );
  }

  async get(p: Principal, id: string): Promise<BundleView> {
    const row = await this.visibleRow(p, id);
    return this.view(row);
  }

  /** The bundle row, when the caller may see it: admins, or anyone in the region of a school it serves. */
  async visibleRow(p: Principal, id: string): Promise<Record<string, unknown>> {
    const scope = await this.regions.scopePath(p);
    const [row] = await this.ds.query<Record<string, unknown>[]>(
      `SELECT b.*, ARRAY(SELECT s.school_id FROM bundle_school s WHERE s.bundle_id = b.id ORDER BY s.school_id) AS school_ids
       FROM bundle b WHERE b.id = $1 AND ($2::text IS NULL OR EXISTS (
         SELECT 1 FROM bundle_school s JOIN school sc ON sc.id = s.school_id JOIN region r ON r.id = sc.region_id
         WHERE s.bundle_id = b.id AND r.path LIKE $2 || '%'))`,
      [id, scope],
    );
    if (!row) throw AppError.notFound('Bundle');
    return row;
  }

  async buildNow(p: Principal, schoolId: string): Promise<{ jobId: string }> {
    await this.schools.visible(p, schoolId);
    return { jobId: await this.jobs.enqueue('packaging.plan', { schoolId }, { userId: p.id }) };
  }

  async readyBundle(id: string): Promise<Bundle> {
    const bundle = await this.ds.getRepository(Bundle).findOneBy({ id });
    if (!bundle) throw AppError.notFound('Bundle');
    if (!bundle.sha256) {
      throw new AppError(
        'conflict',
        `The bundle is ${bundle.state}, not built yet; try again when it is ready`,
      );
    }
    return bundle;
  }

  /** A URL that downloads the bundle for 10 minutes without a token (browsers, USB hand-carry). */
  link(id: string): { url: string; expiresAt: string } {
    const expires = Math.floor(Date.now() / 1000) + LINK_TTL_SECONDS;
    const signature = this.sign(id, expires);
    return {
      url: `/api/v1/bundles/${id}/download?expires=${expires}&signature=${signature}`,
      expiresAt: new Date(expires * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
  }

  linkValid(id: string, expires: string | undefined, signature: string | undefined): boolean {
    if (!expires || !signature || !/^\d{1,12}$/.test(expires)) return false;
    if (Number(expires) < Date.now() / 1000) return false;
    const expected = Buffer.from(this.sign(id, Number(expires)));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  private sign(id: string, expires: number): string {
    return createHmac('sha256', this.env.jwtSecret)
      .update(`bundle-link\n${id}\n${expires}`)
      .digest('base64url');
  }

  private view(r: Record<string, unknown>): BundleView {
    return {
      id: r.id as string,
      audience: { type: r.audience_type as 'school' | 'group', id: r.audience_id as string },
      state: r.state as BundleState,
      progress: r.progress as number,
      sourceBytes: Number(r.source_bytes),
      bundleBytes: r.bundle_bytes === null ? null : Number(r.bundle_bytes),
      sha256: r.sha256 === null ? null : (r.sha256 as string).trim(),
      createdAt: (r.created_at as Date).toISOString(),
      lessons: r.lessons as { lessonId: string; version: number }[],
      schoolIds: r.school_ids as string[],
      ...(r.error ? { error: r.error as string } : {}),
    };
  }
}
