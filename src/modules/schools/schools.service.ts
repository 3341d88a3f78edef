import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error';
import { Page, page } from '../../common/http/pagination';
import { canonicalLanguage } from '../../common/validation/domain';
import { Principal } from '../auth/principal';
import { RegionsService } from '../regions/regions.service';
import { SchoolFields, checkSchoolFields, normaliseGaps } from './fields/school-fields';
import { SchoolEventsService } from './school-events.service';
import { School } from './school.entities';
import { CreateSchoolDto, ListSchoolsQuery, SchoolView, UpdateSchoolDto } from './schools.dto';
import { SchoolsRepository } from './schools.repository';
import { TerminalTokenCache } from './terminal-token-cache';

export const toSchoolView = (s: School): SchoolView => ({
  id: s.id,
  code: s.code,
  name: s.name,
  regionId: s.regionId,
  pupils: s.pupils,
  grades: s.grades,
  languages: s.languages,
  teacherGaps: s.teacherGaps,
  link: {
    downlinkKbps: s.downlinkKbps,
    windows: s.windows,
    timezone: s.timezone,
    monthlyCapMb: s.monthlyCapMb,
    broadcastReceiver: s.broadcastReceiver,
  },
  storageCapacityMb: s.storageCapacityMb,
  device: {
    maxVideoHeight: s.maxVideoHeight,
    videoCodecs: s.videoCodecs,
    imageFormats: s.imageFormats,
  },
  createdAt: s.createdAt.toISOString(),
  updatedAt: s.updatedAt.toISOString(),
});

export function fieldsOf(s: School): SchoolFields {
  const view = toSchoolView(s);
  return {
    code: s.code,
    name: s.name,
    pupils: s.pupils,
    grades: s.grades,
    languages: s.languages,
    teacherGaps: s.teacherGaps,
    link: view.link,
    storageCapacityMb: s.storageCapacityMb,
    device: view.device as SchoolFields['device'],
  };
}

function sortedUnique(values: number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

@Injectable()
export class SchoolsService {
  constructor(
    private readonly repo: SchoolsRepository,
    private readonly regions: RegionsService,
    private readonly events: SchoolEventsService,
    private readonly tokens: TerminalTokenCache,
  ) {}

  /** A school inside the caller's region subtree, or 404: existence never leaks across regions. */
  async visible(p: Principal, id: string): Promise<School> {
    const school = await this.repo.findVisible(id, await this.regions.scopePath(p));
    if (!school) throw AppError.notFound('School');
    return school;
  }

  async create(p: Principal, dto: CreateSchoolDto): Promise<SchoolView> {
    await this.assertRegion(p, dto.regionId);
    const fields = this.validate({
      code: dto.code,
      name: dto.name,
      pupils: dto.pupils,
      grades: sortedUnique(dto.grades),
      languages: (dto.languages ?? ['zh-CN']).map((l) => canonicalLanguage(l) ?? l),
      teacherGaps: dto.teacherGaps ?? [],
      link: {
        downlinkKbps: dto.link.downlinkKbps,
        windows: dto.link.windows ?? [],
        timezone: dto.link.timezone,
        monthlyCapMb: dto.link.monthlyCapMb ?? null,
        broadcastReceiver: dto.link.broadcastReceiver ?? false,
      },
      storageCapacityMb: dto.storageCapacityMb,
      device: {
        maxVideoHeight: (dto.device?.maxVideoHeight ??
          480) as SchoolFields['device']['maxVideoHeight'],
        videoCodecs: dto.device?.videoCodecs ?? ['h264'],
        imageFormats: dto.device?.imageFormats ?? ['webp', 'jpeg', 'png'],
      },
    });
    if (await this.repo.codeExists(fields.code)) {
      throw new AppError('conflict', `A school with code ${fields.code} already exists`, [
        { field: 'code', message: 'already used' },
      ]);
    }
    const school = await this.repo.transaction(async (em) => {
      const saved = await this.repo.insert(em, dto.regionId, fields);
      await this.events.record([saved.id], 'school.created', {}, em);
      return saved;
    });
    await this.events.schedule([school.id]);
    return toSchoolView(school);
  }

  async list(p: Principal, query: ListSchoolsQuery): Promise<Page<SchoolView>> {
    let regionPath: string | undefined;
    if (query.regionId) {
      const region = await this.regions.findById(query.regionId);
      if (!region || !(await this.regions.canSee(p, region))) throw AppError.notFound('Region');
      regionPath = region.path;
    }
    const [rows, total] = await this.repo.list({
      scopePath: await this.regions.scopePath(p),
      regionPath,
      gapSubject: query.gapSubject,
      grade: query.grade,
      q: query.q || undefined,
      offset: (query.page - 1) * query.pageSize,
      limit: query.pageSize,
    });
    return page(rows.map(toSchoolView), total, query);
  }

  async get(p: Principal, id: string): Promise<SchoolView> {
    return toSchoolView(await this.visible(p, id));
  }

  async update(p: Principal, id: string, dto: UpdateSchoolDto): Promise<SchoolView> {
    const school = await this.visible(p, id);
    if (dto.regionId) await this.assertRegion(p, dto.regionId);
    const current = fieldsOf(school);
    const fields = this.validate({
      ...current,
      name: dto.name ?? current.name,
      pupils: dto.pupils ?? current.pupils,
      grades: dto.grades ? sortedUnique(dto.grades) : current.grades,
      languages: dto.languages
        ? dto.languages.map((l) => canonicalLanguage(l) ?? l)
        : current.languages,
      teacherGaps: dto.teacherGaps ?? current.teacherGaps,
      link: dto.link
        ? {
            downlinkKbps: dto.link.downlinkKbps,
            windows: dto.link.windows ?? [],
            timezone: dto.link.timezone,
            monthlyCapMb: dto.link.monthlyCapMb ?? null,
            broadcastReceiver: dto.link.broadcastReceiver ?? false,
          }
        : current.link,
      storageCapacityMb: dto.storageCapacityMb ?? current.storageCapacityMb,
      device: dto.device
        ? {
            maxVideoHeight: (dto.device.maxVideoHeight ??
              480) as SchoolFields['device']['maxVideoHeight'],
            videoCodecs: dto.device.videoCodecs ?? ['h264'],
            imageFormats: dto.device.imageFormats ?? ['webp', 'jpeg', 'png'],
          }
        : current.device,
    });
    const saved = await this.repo.transaction(async (em) => {
      const updated = await this.repo.update(em, school, dto.regionId ?? school.regionId, fields);
      await this.events.record([school.id], 'school.changed', {}, em);
      return updated;
    });
    await this.events.schedule([school.id]);
    return toSchoolView(saved);
  }

  async remove(p: Principal, id: string): Promise<void> {
    await this.visible(p, id);
    await this.repo.delete(id);
    // Its terminals went with it (ON DELETE CASCADE): their tokens must stop working now.
    await this.tokens.forget({ schoolId: id });
  }

  private validate(fields: SchoolFields): SchoolFields {
    const problems = checkSchoolFields(fields);
    if (problems.length) {
      throw new AppError(
        'validation_failed',
        'Some school fields are invalid; see details',
        problems,
      );
    }
    return { ...fields, teacherGaps: normaliseGaps(fields.teacherGaps) };
  }

  private async assertRegion(p: Principal, regionId: string): Promise<void> {
    if (!(await this.regions.canSee(p, regionId))) {
      throw new AppError('validation_failed', 'No region you can see has this id', [
        { field: 'regionId', message: 'unknown region' },
      ]);
    }
  }
}
