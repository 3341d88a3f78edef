import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { School } from './school.entities';
import type { SchoolFields } from './fields/school-fields';

export interface SchoolFilter {
  scopePath: string | null;
  regionPath?: string;
  gapSubject?: string;
  grade?: number;
  q?: string;
  offset: number;
  limit: number;
}

export interface UpsertRow {
  regionId: string;
  fields: SchoolFields;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export const searchTextOfSchool = (code: string, name: string) =>
  `${code} ${name}`.normalize('NFKC').toLowerCase();

/** Schools and their gaps: the only code that queries these tables. */
@Injectable()
export class SchoolsRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  async findVisible(id: string, scopePath: string | null): Promise<School | null> {
    const qb = this.ds
      .getRepository(School)
      .createQueryBuilder('s')
      .innerJoin('region', 'r', 'r.id = s.region_id')
      .where('s.id = :id', { id });
    if (scopePath) qb.andWhere('r.path LIKE :scope', { scope: `${scopePath}%` });
    return qb.getOne();
  }

  codeExists(code: string): Promise<boolean> {
    return this.ds.getRepository(School).existsBy({ code });
  }

  async list(f: SchoolFilter): Promise<[School[], number]> {
    const qb = this.ds
      .getRepository(School)
      .createQueryBuilder('s')
      .innerJoin('region', 'r', 'r.id = s.region_id');
    if (f.scopePath) qb.andWhere('r.path LIKE :scope', { scope: `${f.scopePath}%` });
    if (f.regionPath) qb.andWhere('r.path LIKE :regionPath', { regionPath: `${f.regionPath}%` });
    if (f.gapSubject || f.grade) {
      const conds = ['g.school_id = s.id'];
      if (f.gapSubject) conds.push('g.subject = :gapSubject');
      if (f.grade) conds.push('g.grade = :grade');
      qb.andWhere(`EXISTS (SELECT 1 FROM school_gap g WHERE ${conds.join(' AND ')})`, {
        gapSubject: f.gapSubject,
        grade: f.grade,
      });
    }
    if (f.q) {
      const q = f.q.normalize('NFKC').toLowerCase();
      qb.andWhere(`s.search_text LIKE :like ESCAPE '\\'`, { like: `%${escapeLike(q)}%` });
      qb.addSelect('(lower(s.code) = :exact)', 'exact_code').setParameter('exact', q);
      qb.orderBy('exact_code', 'DESC');
      qb.addOrderBy('s.code', 'ASC');
    } else {
      qb.orderBy('s.code', 'ASC');
    }
    return qb.offset(f.offset).limit(f.limit).getManyAndCount();
  }

  async insert(em: EntityManager, regionId: string, f: SchoolFields): Promise<School> {
    const school = await em.save(School, em.create(School, { ...this.columns(f), regionId }));
    await this.replaceGaps(em, [school.id], [f]);
    return school;
  }

  async update(
    em: EntityManager,
    school: School,
    regionId: string,
    f: SchoolFields,
  ): Promise<School> {
    Object.assign(school, this.columns(f), { regionId });
    const saved = await em.save(School, school);
    await this.replaceGaps(em, [school.id], [f]);
    return saved;
  }

  async delete(id: string): Promise<void> {
    await this.ds.getRepository(School).delete({ id });
  }

  /**
   * Inserts or updates a batch by code in one statement. Rows whose code belongs to a school
   * outside `scopePath` are left alone and reported back, never changed.
   */
  async upsertBatch(
    em: EntityManager,
    rows: UpsertRow[],
    scopePath: string | null,
  ): Promise<{ code: string; id: string; inserted: boolean }[]> {
    if (rows.length === 0) return [];
    const data = rows.map((r) => ({ ...this.columns(r.fields), region_id: r.regionId }));
    const result = await em.query<{ code: string; id: string; inserted: boolean }[]>(
      `INSERT INTO school (code, region_id, name, pupils, grades, languages, teacher_gaps, downlink_kbps,
         windows, timezone, monthly_cap_mb, broadcast_receiver, storage_capacity_mb, max_video_height,
         video_codecs, image_formats, search_text)
       SELECT x.code, x.region_id, x.name, x.pupils, x.grades, x.languages, x.teacher_gaps, x.downlink_kbps,
         x.windows, x.timezone, x.monthly_cap_mb, x.broadcast_receiver, x.storage_capacity_mb,
         x.max_video_height, x.video_codecs, x.image_formats, x.search_text
       FROM jsonb_to_recordset($1::jsonb) AS x(code text, region_id uuid, name text, pupils int, grades int[],
         languages text[], teacher_gaps jsonb, downlink_kbps int, windows jsonb, timezone text,
         monthly_cap_mb int, broadcast_receiver boolean, storage_capacity_mb int, max_video_height int,
         video_codecs text[], image_formats text[], search_text text)
       ON CONFLICT (code) DO UPDATE SET region_id = EXCLUDED.region_id, name = EXCLUDED.name,
         pupils = EXCLUDED.pupils, grades = EXCLUDED.grades, languages = EXCLUDED.languages,
         teacher_gaps = EXCLUDED.teacher_gaps, downlink_kbps = EXCLUDED.downlink_kbps,
         windows = EXCLUDED.windows, timezone = EXCLUDED.timezone, monthly_cap_mb = EXCLUDED.monthly_cap_mb,
         broadcast_receiver = EXCLUDED.broadcast_receiver, storage_capacity_mb = EXCLUDED.storage_capacity_mb,
         max_video_height = EXCLUDED.max_video_height, video_codecs = EXCLUDED.video_codecs,
         image_formats = EXCLUDED.image_formats, search_text = EXCLUDED.search_text, updated_at = now()
       WHERE $2::text IS NULL OR school.region_id IN (SELECT id FROM region WHERE path LIKE $2 || '%')
       RETURNING code, id, (xmax = 0) AS inserted`,
      [JSON.stringify(data.map((d) => this.toRecord(d))), scopePath],
    );
    const byCode = new Map(rows.map((r, i) => [r.fields.code, i]));
    const landed = result.filter((r) => byCode.has(r.code));
    await this.replaceGaps(
      em,
      landed.map((r) => r.id),
      landed.map((r) => rows[byCode.get(r.code) as number].fields),
    );
    return result;
  }

  private async replaceGaps(
    em: EntityManager,
    ids: string[],
    fields: SchoolFields[],
  ): Promise<void> {
    if (ids.length === 0) return;
    await em.query(`DELETE FROM school_gap WHERE school_id = ANY($1::uuid[])`, [ids]);
    const schoolIds: string[] = [];
    const subjects: string[] = [];
    const grades: number[] = [];
    fields.forEach((f, i) => {
      for (const gap of f.teacherGaps) {
        for (const grade of gap.grades) {
          schoolIds.push(ids[i]);
          subjects.push(gap.subject);
          grades.push(grade);
        }
      }
    });
    if (schoolIds.length === 0) return;
    await em.query(
      `INSERT INTO school_gap (school_id, subject, grade)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[]) ON CONFLICT DO NOTHING`,
      [schoolIds, subjects, grades],
    );
  }

  private columns(f: SchoolFields) {
    return {
      code: f.code,
      name: f.name,
      pupils: f.pupils,
      grades: f.grades,
      languages: f.languages,
      teacherGaps: f.teacherGaps,
      downlinkKbps: f.link.downlinkKbps,
      windows: f.link.windows,
      timezone: f.link.timezone,
      monthlyCapMb: f.link.monthlyCapMb,
      broadcastReceiver: f.link.broadcastReceiver,
      storageCapacityMb: f.storageCapacityMb,
      maxVideoHeight: f.device.maxVideoHeight,
      videoCodecs: f.device.videoCodecs,
      imageFormats: f.device.imageFormats,
      searchText: searchTextOfSchool(f.code, f.name),
    };
  }

  private toRecord(c: ReturnType<SchoolsRepository['columns']> & { region_id: string }) {
    return {
      code: c.code,
      region_id: c.region_id,
      name: c.name,
      pupils: c.pupils,
      grades: c.grades,
      languages: c.languages,
      teacher_gaps: c.teacherGaps,
      downlink_kbps: c.downlinkKbps,
      windows: c.windows,
      timezone: c.timezone,
      monthly_cap_mb: c.monthlyCapMb,
      broadcast_receiver: c.broadcastReceiver,
      storage_capacity_mb: c.storageCapacityMb,
      max_video_height: c.maxVideoHeight,
      video_codecs: c.videoCodecs,
      image_formats: c.imageFormats,
      search_text: c.searchText,
    };
  }
}
