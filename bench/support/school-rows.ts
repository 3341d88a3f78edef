/**
 * Schools the way a provincial bureau's spreadsheet describes them, generated deterministically
 * (same seed, same file): Chinese names with a few characters outside the BMP and GBK (𠮷, 䶮, 㙟),
 * names that need CSV quoting, teacher gaps within each school's grades, receive windows that
 * cross midnight, a few bilingual schools. One row list feeds both the CSV sent to the API and
 * the COPY file of the anchor, so both load exactly the same values.
 */

/** A small, fast, seedable PRNG (mulberry32): reproducible files across runs and machines. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rand: () => number, items: readonly T[]): T =>
  items[Math.floor(rand() * items.length)];

const split = (s: string) => s.split(' ');

export const PREFECTURE_NAMES = split(
  `临夏回族自治州 甘南藏族自治州 定西市 陇南市 天水市 平凉市 庆阳市 白银市 武威市 张掖市 酒泉市 金昌市 喀什地区 和田地区 阿克苏地区 昌都市 那曲市 凉山彝族自治州 怒江傈僳族自治州 黔东南苗族侗族自治州`,
);
export const COUNTY_BASES = split(
  `东乡 积石山 康乐 广河 和政 永靖 临潭 卓尼 舟曲 迭部 玛曲 碌曲 夏河 岷 漳 渭源 通渭 陇西 宕昌 文 两当 徽 礼 西和 成 康 清水 秦安 甘谷 武山 张家川 静宁 庄浪 华亭 崇信 灵台 泾川 环 华池 合水 宁 正宁 镇原 会宁 景泰 靖远 古浪 天祝 民勤 山丹 民乐 高台 临泽 肃南 瓜州 金塔 永昌 疏勒 英吉沙 莎车 叶城 麦盖提 岳普湖 伽师 巴楚 墨玉 皮山 洛浦 策勒 于田 民丰 沙雅 新和 拜城 乌什 阿瓦提 柯坪 江达 贡觉 类乌齐 丁青 察雅 八宿 左贡 芒康 洛隆 边坝 嘉黎 比如 聂荣 安多 申扎 巴青 尼玛 木里 盐源 德昌 会东 宁南 普格 布拖 金阳 昭觉 喜德 冕宁 越西 甘洛 美姑 雷波 贡山 福贡 兰坪 雷山 台江 剑河 榕江 从江 黎平`,
);
// 𠮷 (U+20BB7) is outside the BMP and GBK; 䶮 and 㙟 are CJK Extension A (GB18030 only).
const TOWNS = split(
  `龙泉镇 果园乡 达板镇 锁南镇 那勒寺镇 唐汪镇 河滩镇 百和乡 关卜乡 赵家乡 春台乡 汪集镇 风山乡 坪庄乡 大树乡 北岭乡 柳树乡 高山乡 董岭乡 车家湾乡 𠮷祥乡 䶮山镇 㙟头乡 堃岭镇 喆村乡 犇马乡 石门乡 红崖镇`,
);
const VILLAGES = split(
  `中心 红星村 团结村 光明村 胜利村 和平村 幸福村 新庄村 上湾村 下湾村 阳洼村 石门村 金山村 沙沟村 草滩村 马家村 王家庄 李家沟 杨家河 㙟口村`,
);
/** School kinds with the grades they teach. */
const KINDS: [name: string, from: number, to: number, weight: number][] = [
  ['教学点', 1, 3, 20],
  ['小学', 1, 6, 30],
  ['中心小学', 1, 6, 12],
  ['完全小学', 1, 6, 10],
  ['民族小学', 1, 6, 6],
  ['九年一贯制学校', 1, 9, 10],
  ['初级中学', 7, 9, 8],
  ['寄宿制学校', 4, 9, 4],
];

/** Subjects schools most often lack a teacher for, with how often. */
const GAP_SUBJECTS: [subject: string, weight: number][] = [
  ['english', 30],
  ['music', 25],
  ['art', 20],
  ['pe', 8],
  ['science', 7],
  ['it', 6],
  ['calligraphy', 4],
];

const WINDOWS = ['22:00-06:00', '23:00-05:30', '01:00-05:00', '21:30-07:00', '00:00-06:00'];
const STORAGE_MB = [16_000, 32_000, 64_000, 64_000, 128_000, 128_000, 256_000, 500_000];

export interface CountySpec {
  code: string;
  name: string;
  /** Xinjiang prefectures keep Ürümqi time. */
  timezone: string;
  /** Second language of instruction spoken there, if any. */
  minority: string | null;
}

export interface SchoolRow {
  code: string;
  name: string;
  regionCode: string;
  pupils: number;
  grades: number[];
  languages: string[];
  /** Empty when the CSV cell is left empty (default zh-CN). */
  languagesCell: string;
  teacherGaps: { subject: string; grades: number[] }[];
  teacherGapsCell: string;
  windows: { start: string; end: string }[];
  windowsCell: string;
  downlinkKbps: number;
  timezone: string;
  storageCapacityMb: number;
  monthlyCapMb: number | null;
  broadcastReceiver: boolean;
  broadcastCell: string;
  maxVideoHeight: number;
  heightCell: string;
}

function weighted<T>(rand: () => number, items: readonly T[], weight: (item: T) => number): T {
  let r = rand() * items.reduce((n, item) => n + weight(item), 0);
  for (const item of items) {
    r -= weight(item);
    if (r < 0) return item;
  }
  return items[items.length - 1];
}

function gapsFor(rand: () => number, from: number, to: number): SchoolRow['teacherGaps'] {
  const roll = rand();
  const count = roll < 0.12 ? 0 : roll < 0.5 ? 1 : roll < 0.85 ? 2 : 3;
  const chosen = new Map<string, number[]>();
  for (let tries = 0; chosen.size < count && tries < 10; tries++) {
    const [subject] = weighted(rand, GAP_SUBJECTS, (g) => g[1]);
    if (chosen.has(subject)) continue;
    // English starts in grade 3 in most provinces; other gaps cover a run of the school's grades.
    const low = subject === 'english' ? Math.max(from, 3) : from;
    if (low > to) continue;
    const a = low + Math.floor(rand() * (to - low + 1) * 0.5);
    const b = Math.max(a, to - Math.floor(rand() * (to - a + 1) * 0.3));
    chosen.set(
      subject,
      Array.from({ length: b - a + 1 }, (_, i) => a + i),
    );
  }
  return [...chosen.entries()]
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([subject, grades]) => ({ subject, grades }));
}

const gapCell = (gaps: SchoolRow['teacherGaps']) =>
  gaps
    .map((g) =>
      g.grades.length === 1
        ? `${g.subject}:${g.grades[0]}`
        : `${g.subject}:${g.grades[0]}-${g.grades[g.grades.length - 1]}`,
    )
    .join(';');

function windowsFor(rand: () => number): { windows: SchoolRow['windows']; cell: string } {
  const roll = rand();
  const cell =
    roll < 0.25 ? '' : roll < 0.85 ? pick(rand, WINDOWS) : `${pick(rand, WINDOWS)};12:00-13:30`;
  const windows = cell
    .split(';')
    .filter(Boolean)
    .map((w) => {
      const [start, end] = w.split('-');
      return { start, end };
    });
  return { windows, cell };
}

/** `count` schools spread over `counties`, codes `<prefix>-000001`...; deterministic for a seed. */
export function generateSchools(
  count: number,
  counties: CountySpec[],
  prefix: string,
  seed: number,
): SchoolRow[] {
  const rand = prng(seed);
  const rows: SchoolRow[] = [];
  for (let i = 1; i <= count; i++) {
    const county = counties[Math.floor(rand() * counties.length)];
    const [kind, from, to] = weighted(rand, KINDS, (k) => k[3]);
    let name = `${county.name}${pick(rand, TOWNS)}${pick(rand, VILLAGES)}${kind}`;
    const quirk = rand();
    if (quirk < 0.01) name = `${name}（"希望工程"援建）`;
    else if (quirk < 0.015) name = `${name}, 东校区`;
    else if (quirk < 0.02) name = `${name} No.${1 + Math.floor(rand() * 9)}`;
    const grades = Array.from({ length: to - from + 1 }, (_, k) => from + k);
    const teacherGaps = gapsFor(rand, from, to);
    const { windows, cell: windowsCell } = windowsFor(rand);
    const langRoll = rand();
    const languagesCell =
      county.minority && langRoll < 0.45
        ? `zh-CN;${county.minority}`
        : langRoll < 0.5
          ? 'zh-CN'
          : '';
    const heightRoll = rand();
    const heightCell = heightRoll < 0.3 ? '' : String(pick(rand, [240, 360, 480, 720]));
    const broadcastCell = rand() < 0.2 ? 'true' : '';
    const capped = rand() < 0.3;
    rows.push({
      code: `${prefix}-${String(i).padStart(6, '0')}`,
      name,
      regionCode: county.code,
      pupils: kind === '教学点' ? 5 + Math.floor(rand() * 60) : 80 + Math.floor(rand() * 1500),
      grades,
      languages: languagesCell ? languagesCell.split(';') : ['zh-CN'],
      languagesCell,
      teacherGaps,
      teacherGapsCell: gapCell(teacherGaps),
      windows,
      windowsCell,
      // Satellite links: most between 2 and 20 Mbit/s, a tail of very slow ones.
      downlinkKbps:
        rand() < 0.1 ? 64 + Math.floor(rand() * 900) : 2000 + Math.floor(rand() * 18_000),
      timezone: county.timezone,
      storageCapacityMb: pick(rand, STORAGE_MB),
      monthlyCapMb: capped ? 10_000 * (2 + Math.floor(rand() * 9)) : null,
      broadcastReceiver: broadcastCell === 'true',
      broadcastCell,
      maxVideoHeight: heightCell ? Number(heightCell) : 480,
      heightCell,
    });
  }
  return rows;
}

const CSV_COLUMNS = [
  'code',
  'name',
  'regionCode',
  'pupils',
  'grades',
  'downlinkKbps',
  'timezone',
  'storageCapacityMb',
  'languages',
  'teacherGaps',
  'windows',
  'monthlyCapMb',
  'broadcastReceiver',
  'maxVideoHeight',
];

/** RFC 4180 quoting: only cells that need it, doubled quotes inside. */
const cell = (v: string | number | null) => {
  const s = v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The file a bureau uploads: UTF-8 with a BOM (as spreadsheet programs save it), CRLF lines. */
export function schoolCsv(rows: SchoolRow[]): Buffer {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push(
      [
        r.code,
        r.name,
        r.regionCode,
        r.pupils,
        r.grades.join(';'),
        r.downlinkKbps,
        r.timezone,
        r.storageCapacityMb,
        r.languagesCell,
        r.teacherGapsCell,
        r.windowsCell,
        r.monthlyCapMb,
        r.broadcastCell,
        r.heightCell,
      ]
        .map(cell)
        .join(','),
    );
  }
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lines.join('\r\n') + '\r\n')]);
}

/** The columns of `school` that a row fills (id, need_version and timestamps take defaults). */
export const COPY_COLUMNS = [
  'code',
  'region_id',
  'name',
  'pupils',
  'grades',
  'languages',
  'teacher_gaps',
  'downlink_kbps',
  'windows',
  'timezone',
  'monthly_cap_mb',
  'broadcast_receiver',
  'storage_capacity_mb',
  'max_video_height',
  'video_codecs',
  'image_formats',
  'search_text',
];

/**
 * The same rows as the values the import stores (defaults filled in, gaps and windows as JSON,
 * search_text as the repository builds it), in COPY's CSV format; an empty unquoted cell is NULL.
 */
export function copyCsv(rows: SchoolRow[], regionIds: Map<string, string>): Buffer {
  const lines: string[] = [];
  for (const r of rows) {
    const regionId = regionIds.get(r.regionCode);
    if (!regionId) throw new Error(`no region id for ${r.regionCode}`);
    lines.push(
      [
        r.code,
        regionId,
        r.name,
        r.pupils,
        `{${r.grades.join(',')}}`,
        `{${r.languages.join(',')}}`,
        JSON.stringify(r.teacherGaps),
        r.downlinkKbps,
        JSON.stringify(r.windows),
        r.timezone,
        r.monthlyCapMb,
        r.broadcastReceiver ? 't' : 'f',
        r.storageCapacityMb,
        r.maxVideoHeight,
        '{h264}',
        '{webp,jpeg,png}',
        `${r.code} ${r.name}`.normalize('NFKC').toLowerCase(),
      ]
        .map(cell)
        .join(','),
    );
  }
  return Buffer.from(lines.join('\n') + '\n');
}
