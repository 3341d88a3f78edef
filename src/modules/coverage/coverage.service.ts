import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error';
import { PageQuery } from '../../common/http/pagination';
import { Principal, isAdmin } from '../auth/principal';
import { RegionsService } from '../regions/regions.service';
import {
  CoverageFigures,
  CoverageRegionRow,
  CoverageRegionsView,
  CoverageSchoolRow,
  CoverageSchoolsView,
  CoverageSubjectsView,
  CoverageSummaryView,
} from './coverage.dto';
import { CoverageRefresher } from './coverage.refresher';
import {
  CoverageRepository,
  FigureRow,
  SchoolRow,
  SchoolStatus,
  Scope,
} from './coverage.repository';

const n = (v: string | number | null | undefined): number => Number(v ?? 0);

function figures(r: FigureRow): CoverageFigures {
  const total = n(r.terminals_total);
  const seen = n(r.terminals_seen);
  return {
    schools: n(r.schools),
    pupils: n(r.pupils),
    terminals: { total, seen24h: seen, stale: total - seen },
    gaps: { total: n(r.gaps_total), covered: n(r.gaps_covered) },
    assignments: {
      total: n(r.assignments_total),
      installed: n(r.installed),
      pending: n(r.pending),
      late: n(r.late),
      failed: n(r.failed),
    },
    bytes: {
      source: n(r.bytes_source),
      sent: n(r.bytes_sent),
      saved: n(r.bytes_saved),
      broadcast: n(r.bytes_broadcast),
      unicast: n(r.bytes_unicast),
      savedByBroadcast: n(r.bytes_saved_broadcast),
    },
  };
}

function schoolRow(r: SchoolRow): CoverageSchoolRow {
  const stale = r.terminals_seen === 0;
  return {
    id: r.school_id,
    code: r.code,
    name: r.name,
    regionId: r.region_id,
    regionCode: r.region_code,
    regionName: r.region_name,
    pupils: r.pupils,
    terminals: {
      total: r.terminals_total,
      seen24h: r.terminals_seen,
      stale: r.terminals_total - r.terminals_seen,
    },
    lastSeenAt: r.last_seen_at ? r.last_seen_at.toISOString() : null,
    gaps: { total: r.gaps_total, covered: r.gaps_covered },
    assignments: {
      total: r.assignments_total,
      installed: r.installed,
      pending: r.pending,
      late: r.late,
      failed: r.failed,
    },
    bytes: {
      source: n(r.bytes_source),
      sent: n(r.bytes_sent),
      saved: n(r.bytes_saved),
      broadcast: n(r.bytes_broadcast),
      unicast: n(r.bytes_unicast),
      savedByBroadcast: n(r.bytes_saved_broadcast),
    },
    status: { stale, late: r.late > 0, uncovered: r.gaps_covered < r.gaps_total },
  };
}

const NO_FIGURES = {} as FigureRow;

/** One row of each collection, with every column: CSV headers even when nothing matches. */
export const CSV_TEMPLATES = {
  regions: {
    asOf: null,
    id: '',
    code: '',
    name: '',
    level: '',
    ...figures(NO_FIGURES),
    schoolStatus: { stale: 0, late: 0, uncovered: 0 },
  },
  subjects: { asOf: null, subject: '', grade: 0, gaps: 0, covered: 0, lessonsInstalled: 0 },
  schools: { asOf: null, ...schoolRow({ terminals_total: 0, terminals_seen: 0 } as SchoolRow) },
};

export interface SatelliteBytes {
  /** The school, or the region whose schools a transmission served (exactly one). */
  schoolId?: string;
  regionId?: string;
  via: 'broadcast' | 'unicast';
  /** Bytes that crossed the satellite link. */
  bytes: number;
  /** Unicast bytes the broadcast made unnecessary (broadcast only). */
  savedByBroadcast?: number;
}

/**
 * Coverage figures from the rollups, always inside the caller's region subtree: a region the
 * caller cannot see answers 404 as if it did not exist.
 */
@Injectable()
export class CoverageService {
  constructor(
    private readonly repo: CoverageRepository,
    private readonly regions: RegionsService,
    private readonly refresher: CoverageRefresher,
  ) {}

  async summary(p: Principal, regionId?: string): Promise<CoverageSummaryView> {
    const scope = await this.scope(p, regionId);
    const asOf = await this.asOf();
    return { asOf, ...figures(await this.repo.figures(scope)) };
  }

  async childRegions(p: Principal, parentId?: string): Promise<CoverageRegionsView> {
    let rows;
    if (parentId) {
      await this.scope(p, parentId);
      rows = await this.repo.childRegions(parentId);
    } else if (isAdmin(p)) {
      rows = await this.repo.childRegions(null);
    } else {
      // A scoped caller without parentId starts at the top of its own subtree.
      rows = p.regionId ? await this.repo.childRegions(null, p.regionId) : [];
    }
    const items: CoverageRegionRow[] = rows.map((r) => ({
      id: r.id,
      code: r.code,
      name: r.name,
      level: r.level,
      ...figures(r),
      schoolStatus: {
        stale: n(r.stale_schools),
        late: n(r.late_schools),
        uncovered: n(r.uncovered_schools),
      },
    }));
    return { asOf: await this.asOf(), items, page: 1, pageSize: items.length, total: items.length };
  }

  async subjects(p: Principal, regionId?: string): Promise<CoverageSubjectsView> {
    const scope = await this.scope(p, regionId);
    const asOf = await this.asOf();
    const items = (await this.repo.subjects(scope)).map((r) => ({
      subject: r.subject,
      grade: r.grade,
      gaps: n(r.gaps),
      covered: n(r.covered),
      lessonsInstalled: n(r.installed),
    }));
    return { asOf, items, page: 1, pageSize: items.length, total: items.length };
  }

  async schools(
    p: Principal,
    query: PageQuery & { regionId?: string; status?: SchoolStatus },
  ): Promise<CoverageSchoolsView> {
    const scope = await this.scope(p, query.regionId);
    const asOf = await this.asOf();
    const [rows, total] = await this.repo.schools(
      scope,
      query.status,
      (query.page - 1) * query.pageSize,
      query.pageSize,
    );
    return {
      asOf,
      items: rows.map(schoolRow),
      page: query.page,
      pageSize: query.pageSize,
      total,
    };
  }

  /**
   * For the broadcast sender: books satellite bytes against one school or a whole region (one
   * transmission that served its schools). The next rollup refresh shows them.
   */
  async addSatelliteBytes(entry: SatelliteBytes): Promise<void> {
    const bytes = Math.round(entry.bytes);
    const saved = Math.round(entry.savedByBroadcast ?? 0);
    if (!Number.isFinite(bytes) || bytes < 0 || !Number.isFinite(saved) || saved < 0) {
      throw new AppError('validation_failed', 'Byte counts are whole numbers of at least 0');
    }
    if ((entry.schoolId ? 1 : 0) + (entry.regionId ? 1 : 0) !== 1) {
      throw new AppError('validation_failed', 'Name exactly one of schoolId and regionId');
    }
    if (entry.schoolId) {
      if (!(await this.repo.schoolExists(entry.schoolId))) throw AppError.notFound('School');
      await this.repo.addSatellite('school', entry.schoolId, entry.via, bytes, saved);
    } else {
      if (!(await this.regions.findById(entry.regionId as string))) {
        throw AppError.notFound('Region');
      }
      await this.repo.addSatellite('region', entry.regionId as string, entry.via, bytes, saved);
    }
  }

  /** Before the very first refresh there is nothing to show: roll up once, inline. */
  private async asOf(): Promise<string | null> {
    let asOf = await this.repo.asOf();
    if (!asOf) {
      await this.refresher.refresh({ budgetMs: 10_000 });
      asOf = await this.repo.asOf();
    }
    return asOf ? asOf.toISOString() : null;
  }

  private async scope(p: Principal, regionId?: string): Promise<Scope> {
    if (regionId) {
      const region = await this.regions.findById(regionId);
      if (!region || !(await this.regions.canSee(p, region))) throw AppError.notFound('Region');
      return { kind: 'region', id: region.id, path: region.path };
    }
    if (isAdmin(p)) return { kind: 'national' };
    const own = p.regionId ? await this.regions.findById(p.regionId) : null;
    // A scoped user without a region sees nothing (an id that matches no row).
    if (!own) return { kind: 'region', id: '00000000-0000-0000-0000-000000000000', path: '/-/' };
    return { kind: 'region', id: own.id, path: own.path };
  }
}
