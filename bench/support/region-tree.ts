import type { Api } from './api';
import { COUNTY_BASES, PREFECTURE_NAMES, type CountySpec } from './school-rows';

export interface ProvinceTree {
  provinceId: string;
  provinceCode: string;
  counties: CountySpec[];
  /** Region code -> id, for every region of the tree (the COPY anchor needs the county ids). */
  ids: Map<string, string>;
}

/** Xinjiang keeps Ürümqi time; minority languages of instruction by prefecture. */
function localeOf(prefecture: string): { timezone: string; minority: string | null } {
  if (/喀什|和田|阿克苏/.test(prefecture)) return { timezone: 'Asia/Urumqi', minority: 'ug' };
  if (/甘南|昌都|那曲/.test(prefecture)) return { timezone: 'Asia/Shanghai', minority: 'bo' };
  if (/凉山/.test(prefecture)) return { timezone: 'Asia/Shanghai', minority: 'ii' };
  return { timezone: 'Asia/Shanghai', minority: null };
}

/**
 * A province, `prefectures` prefectures under it and `countiesEach` counties under each, created
 * through POST /regions as an admin (so `path` is exactly what the service builds). When
 * `provinceId` is given the tree grows under that existing province instead.
 */
export async function createProvinceTree(
  api: Api,
  adminToken: string,
  options: {
    code: string;
    /** The new province's name; unused with `provinceId`. */
    name?: string;
    prefectures: number;
    countiesEach: number;
    provinceId?: string;
  },
): Promise<ProvinceTree> {
  const ids = new Map<string, string>();
  const region = (body: Record<string, unknown>) =>
    api.call<{ id: string }>('POST', '/regions', { token: adminToken, body });
  const provinceId =
    options.provinceId ??
    (await region({ code: options.code, name: options.name ?? options.code, level: 'province' }))
      .id;
  ids.set(options.code, provinceId);
  const counties: CountySpec[] = [];
  let countyIndex = 0;
  for (let p = 0; p < options.prefectures; p++) {
    const prefectureName = PREFECTURE_NAMES[p % PREFECTURE_NAMES.length];
    const prefectureCode = `${options.code}-P${String(p + 1).padStart(2, '0')}`;
    const prefecture = await region({
      code: prefectureCode,
      name: prefectureName,
      level: 'prefecture',
      parentId: provinceId,
    });
    ids.set(prefectureCode, prefecture.id);
    for (let c = 0; c < options.countiesEach; c++) {
      const base = COUNTY_BASES[countyIndex % COUNTY_BASES.length];
      const name = countyIndex < COUNTY_BASES.length ? `${base}县` : `${base}新区`;
      countyIndex++;
      const code = `${prefectureCode}-C${String(c + 1).padStart(2, '0')}`;
      const county = await region({ code, name, level: 'county', parentId: prefecture.id });
      ids.set(code, county.id);
      counties.push({ code, name, ...localeOf(prefectureName) });
    }
  }
  return { provinceId, provinceCode: options.code, counties, ids };
}
