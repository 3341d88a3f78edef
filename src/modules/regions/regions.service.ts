import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AppError } from '../../common/errors/app-error';
import { Page, PageQuery, page } from '../../common/http/pagination';
import { Principal, isAdmin } from '../auth/principal';
import { Bureau, REGION_LEVELS, Region } from './region.entity';
import { BureauView, CreateBureauDto, CreateRegionDto, RegionView } from './regions.dto';

export const toRegionView = (r: Region): RegionView => ({
  id: r.id,
  code: r.code,
  name: r.name,
  level: r.level,
  parentId: r.parentId,
  createdAt: r.createdAt.toISOString(),
});

export const toBureauView = (b: Bureau): BureauView => ({
  id: b.id,
  name: b.name,
  regionId: b.regionId,
  createdAt: b.createdAt.toISOString(),
});

/**
 * The region tree and bureaus, and the scoping rules every other module asks about:
 * a non-admin sees its own region and everything below it, nothing else.
 */
@Injectable()
export class RegionsService {
  constructor(
    @InjectRepository(Region) private readonly regions: Repository<Region>,
    @InjectRepository(Bureau) private readonly bureaus: Repository<Bureau>,
  ) {}

  async create(dto: CreateRegionDto): Promise<RegionView> {
    let path = '/';
    if (dto.parentId) {
      const parent = await this.regions.findOneBy({ id: dto.parentId });
      if (!parent) {
        throw new AppError('validation_failed', 'The parent region does not exist', [
          { field: 'parentId', message: 'no region has this id' },
        ]);
      }
      if (REGION_LEVELS.indexOf(dto.level) <= REGION_LEVELS.indexOf(parent.level)) {
        throw new AppError(
          'validation_failed',
          `A ${dto.level} cannot sit under a ${parent.level}`,
          [{ field: 'level', message: `must be below ${parent.level}` }],
        );
      }
      path = parent.path;
    }
    if (await this.regions.existsBy({ code: dto.code })) {
      throw new AppError('conflict', `A region with code ${dto.code} already exists`, [
        { field: 'code', message: 'already used' },
      ]);
    }
    const id = crypto.randomUUID();
    const saved = await this.regions.save(
      this.regions.create({
        id,
        code: dto.code,
        name: dto.name,
        level: dto.level,
        parentId: dto.parentId ?? null,
        path: `${path}${id}/`,
      }),
    );
    return toRegionView(saved);
  }

  async list(p: Principal, query: { parentId?: string } & PageQuery): Promise<Page<RegionView>> {
    const qb = this.regions.createQueryBuilder('r');
    if (query.parentId) qb.where('r.parent_id = :parentId', { parentId: query.parentId });
    else if (isAdmin(p) || !p.regionId) qb.where('r.parent_id IS NULL');
    // A scoped user without parentId starts at the top of its own subtree.
    else qb.where('r.id = :own', { own: p.regionId });
    const scope = await this.scopePath(p);
    if (scope) qb.andWhere('r.path LIKE :scope', { scope: `${scope}%` });
    const [rows, total] = await qb
      .orderBy('r.code', 'ASC')
      .skip((query.page - 1) * query.pageSize)
      .take(query.pageSize)
      .getManyAndCount();
    return page(rows.map(toRegionView), total, query);
  }

  async get(p: Principal, id: string): Promise<RegionView> {
    const region = await this.regions.findOneBy({ id });
    if (!region || !(await this.canSee(p, region))) throw AppError.notFound('Region');
    return toRegionView(region);
  }

  async findById(id: string): Promise<Region | null> {
    return this.regions.findOneBy({ id });
  }

  async findByCodes(codes: string[]): Promise<Map<string, { id: string; path: string }>> {
    if (codes.length === 0) return new Map();
    const rows = await this.regions
      .createQueryBuilder('r')
      .where('r.code IN (:...codes)', { codes })
      .getMany();
    return new Map(rows.map((r) => [r.code, { id: r.id, path: r.path }]));
  }

  /** The path prefix a caller is confined to, or null for admins (everything). */
  async scopePath(p: Principal): Promise<string | null> {
    if (isAdmin(p)) return null;
    if (!p.regionId) return '/__nowhere__/';
    const own = await this.regions.findOneBy({ id: p.regionId });
    return own ? own.path : '/__nowhere__/';
  }

  async canSee(p: Principal, region: Region | string): Promise<boolean> {
    const target =
      typeof region === 'string' ? await this.regions.findOneBy({ id: region }) : region;
    if (!target) return false;
    const scope = await this.scopePath(p);
    return scope === null || target.path.startsWith(scope);
  }

  async createBureau(dto: CreateBureauDto): Promise<BureauView> {
    if (!(await this.regions.existsBy({ id: dto.regionId }))) {
      throw new AppError('validation_failed', 'The region does not exist', [
        { field: 'regionId', message: 'no region has this id' },
      ]);
    }
    if (await this.bureaus.existsBy({ regionId: dto.regionId, name: dto.name })) {
      throw new AppError('conflict', 'This region already has a bureau with that name', [
        { field: 'name', message: 'already used in this region' },
      ]);
    }
    return toBureauView(await this.bureaus.save(this.bureaus.create(dto)));
  }

  async listBureaus(p: Principal, query: PageQuery): Promise<Page<BureauView>> {
    const qb = this.bureaus.createQueryBuilder('b').innerJoin(Region, 'r', 'r.id = b.region_id');
    const scope = await this.scopePath(p);
    if (scope) {
      qb.where('(r.path LIKE :scope OR b.id = :own)', { scope: `${scope}%`, own: p.bureauId });
    }
    const [rows, total] = await qb
      .orderBy('b.name', 'ASC')
      .skip((query.page - 1) * query.pageSize)
      .take(query.pageSize)
      .getManyAndCount();
    return page(rows.map(toBureauView), total, query);
  }

  findBureau(id: string): Promise<Bureau | null> {
    return this.bureaus.findOneBy({ id });
  }
}
