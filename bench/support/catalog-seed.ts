import type { Client } from 'pg';
import { searchGramsOf } from '../../src/modules/catalog/lesson-search';

/**
 * Seeds a catalog straight into PostgreSQL (one INSERT ... SELECT over generate_series): the API
 * would take minutes for 100,000 lessons, and the bench measures search, not creation.
 * Titles mix Chinese and English the way bureaus write them; search_text is built exactly as
 * the API builds it (title, description and tags joined by spaces, NFKC, lower case).
 */

const words = (list: string, separator = ' ') => list.split(separator);

/** Subjects with their Chinese and English names, so a title fits its subject. */
const SUBJECTS: [code: string, zh: string, en: string][] = [
  ['music', '音乐', 'Music'],
  ['art', '美术', 'Art'],
  ['english', '英语', 'English'],
  ['math', '数学', 'Maths'],
  ['chinese', '语文', 'Chinese'],
  ['science', '科学', 'Science'],
  ['pe', '体育', 'PE'],
  ['calligraphy', '书法', 'Calligraphy'],
  ['labour', '劳动', 'Labour'],
  ['ethics', '道德与法治', 'Ethics'],
  ['it', '信息技术', 'Computing'],
  ['other', '综合实践', 'Project'],
];

const ZH_NOUNS = words(
  `歌曲 节奏 绘画 色彩 字母 发音 旋律 乐器 合唱 舞蹈 剪纸 水彩 素描 分数 几何 乘法 除法 加法 古诗 汉字 拼音 阅读 作文 植物 动物 天气 地球 太阳 月亮 春天 秋天 故事 儿歌 民歌 诗歌 图形 测量 时间 钟表 家乡 跳绳 篮球 编程 键盘 种植 烹饪 礼貌 安全`,
);
const ZH_VERBS = words(`欣赏 练习 入门 基础 探索 认识 学习 游戏 表演 创作 复习 拓展`);
const EN_NOUNS = words(
  `rhythm melody alphabet phonics fractions geometry multiplication reading writing painting colours drawing singing dance weather plants animals planets stories poems grammar vocabulary counting shapes clocks songs instruments recorder papercut handwriting coding keyboard gardening safety`,
);
const EN_LEADS = words(
  `Introduction to|Fun with|Practice:|Exploring|Basic|Games with|Learning|Understanding|Let us sing:|Review:`,
  '|',
);
const TAGS = words(
  `儿歌 民歌 律动 节拍 五声音阶 自然拼读 口算 古诗词 识字 户外 手工 pentatonic phonics sing-along hands-on outdoor offline low-bandwidth teacherless bilingual game video worksheet`,
);
const LANGUAGES_ZH = words(`zh-CN zh-CN zh-CN zh-CN zh-CN zh-CN ug bo mn ii`);

const arrayLiteral = (items: string[]) =>
  `ARRAY[${items.map((s) => `'${s.replace(/'/g, "''")}'`).join(',')}]::text[]`;

/** The one statement that seeds `count` lessons across `bureauIds`; deterministic for a seed. */
function seedStatement(count: number, bureauIds: string[]): string {
  const pick = (arr: string, r: string) =>
    `(${arr})[1 + floor(${r} * array_length(${arr}, 1))::int]`;
  return `
    WITH w AS (
      SELECT ${arrayLiteral(SUBJECTS.map((s) => s[0]))} AS subj,
             ${arrayLiteral(SUBJECTS.map((s) => s[1]))} AS subj_zh,
             ${arrayLiteral(SUBJECTS.map((s) => s[2]))} AS subj_en,
             ${arrayLiteral(ZH_NOUNS)} AS zn, ${arrayLiteral(ZH_VERBS)} AS zv,
             ${arrayLiteral(EN_NOUNS)} AS en, ${arrayLiteral(EN_LEADS)} AS el,
             ${arrayLiteral(TAGS)} AS tg, ${arrayLiteral(LANGUAGES_ZH)} AS lz,
             ${arrayLiteral(bureauIds)}::uuid[] AS bureaus
    ),
    r AS MATERIALIZED (
      SELECT g, 1 + floor(random() * ${SUBJECTS.length})::int AS s, random() AS kind,
             random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
             random() AS r6, random() AS r7, random() AS r8, random() AS pub,
             1 + floor(random() * 12)::int AS g0, floor(random() * 3)::int AS span
      FROM generate_series(1, ${count}) g
    ),
    t AS MATERIALIZED (
      SELECT r.*, w.bureaus, w.subj[r.s] AS subject,
        CASE
          WHEN r.kind < 0.5 THEN w.subj_zh[r.s] || ${pick('w.zn', 'r.r1')} || ${pick('w.zv', 'r.r2')}
               || '：第' || (1 + floor(r.r3 * 30))::int || '课'
          WHEN r.kind < 0.75 THEN ${pick('w.el', 'r.r2')} || ' ' || initcap(${pick('w.en', 'r.r1')})
               || ' and ' || ${pick('w.en', 'r.r4')} || ' (' || w.subj_en[r.s] || ', unit '
               || (1 + floor(r.r3 * 12))::int || ')'
          ELSE w.subj_zh[r.s] || ' ' || initcap(${pick('w.en', 'r.r1')}) || ' ' || ${pick('w.zn', 'r.r4')}
               || ${pick('w.zv', 'r.r2')}
        END AS title,
        '本课通过' || ${pick('w.zn', 'r.r5')} || '和' || ${pick('w.zn', 'r.r6')} || '帮助学生'
          || ${pick('w.zv', 'r.r7')} || w.subj_zh[r.s] || '。Pupils practise ' || ${pick('w.en', 'r.r6')}
          || ' and ' || ${pick('w.en', 'r.r8')} || ' with short activities.' AS description,
        ARRAY[${pick('w.tg', 'r.r7')}, ${pick('w.tg', 'r.r8')}] AS tags,
        CASE WHEN r.kind >= 0.5 AND r.kind < 0.75 AND w.subj[r.s] = 'english' THEN 'en'
             ELSE ${pick('w.lz', 'r.r3')} END AS language
      FROM r, w
    )
    INSERT INTO lesson (bureau_id, title, description, subject, grades, language, duration_minutes,
                        tags, teacherless_ready, status, draft_version, published_version,
                        search_text, created_at, updated_at, retired_at)
    SELECT t.bureaus[1 + (t.g % array_length(t.bureaus, 1))], t.title, t.description, t.subject,
           ARRAY(SELECT generate_series(t.g0, least(12, t.g0 + t.span))), t.language,
           30 + 5 * floor(t.r5 * 6)::int, t.tags, t.r8 < 0.3,
           CASE WHEN t.pub >= 0.99 THEN 'retired' ELSE 'active' END, 1,
           CASE WHEN t.pub >= 0.9 AND t.pub < 0.99 THEN NULL ELSE 1 END,
           lower(normalize(t.title || ' ' || t.description || ' ' || array_to_string(t.tags, ' '), NFKC)),
           now() - t.g * interval '37 seconds', now() - t.g * interval '37 seconds',
           CASE WHEN t.pub >= 0.99 THEN now() ELSE NULL END
    FROM t`;
}

export interface SeedResult {
  lessons: number;
  published: number;
  drafts: number;
  retired: number;
  seconds: number;
}

/**
 * Adds `otherBureaus` bureaus beside `ownBureauId` (drafts of other bureaus must stay hidden from
 * a bureau user), seeds `count` lessons and their version 1, then VACUUM ANALYZE, as autovacuum
 * would have left a catalog that grew over months.
 */
export async function seedCatalog(
  db: Client,
  options: { count: number; ownBureauId: string; regionId: string; otherBureaus: number },
): Promise<SeedResult> {
  const started = Date.now();
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO bureau (region_id, name)
     SELECT $1, '县教育局 ' || g FROM generate_series(1, $2::int) g RETURNING id`,
    [options.regionId, options.otherBureaus],
  );
  const bureauIds = [options.ownBureauId, ...rows.map((r) => r.id)];
  await db.query('SELECT setseed(0.2026)');
  await db.query(seedStatement(options.count, bureauIds));
  await db.query(
    `INSERT INTO lesson_version (lesson_id, version, state, published_at, created_at)
     SELECT id, 1,
            CASE WHEN status = 'retired' THEN 'retired'
                 WHEN published_version IS NOT NULL THEN 'published' ELSE 'draft' END,
            CASE WHEN published_version IS NOT NULL THEN created_at END, created_at
     FROM lesson`,
  );
  await fillSearchGrams(db);
  await db.query('VACUUM ANALYZE lesson');
  await db.query('VACUUM ANALYZE lesson_version');
  const [counts] = (
    await db.query<{ lessons: number; published: number; drafts: number; retired: number }>(
      `SELECT count(*)::int AS lessons,
              count(*) FILTER (WHERE status = 'active' AND published_version IS NOT NULL)::int AS published,
              count(*) FILTER (WHERE status = 'active' AND published_version IS NULL)::int AS drafts,
              count(*) FILTER (WHERE status = 'retired')::int AS retired
       FROM lesson`,
    )
  ).rows;
  return { ...counts, seconds: (Date.now() - started) / 1000 };
}

/** search_grams as the service computes them (src/modules/catalog/lesson-search.ts), in batches. */
async function fillSearchGrams(db: Client): Promise<void> {
  const { rows } = await db.query<{ id: string; search_text: string }>(
    'SELECT id, search_text FROM lesson',
  );
  for (let i = 0; i < rows.length; i += 5000) {
    const batch = rows.slice(i, i + 5000);
    await db.query(
      `UPDATE lesson l SET search_grams = ARRAY(SELECT jsonb_array_elements_text(x.grams))
       FROM unnest($1::uuid[], $2::jsonb[]) AS x(id, grams) WHERE l.id = x.id`,
      [batch.map((r) => r.id), batch.map((r) => JSON.stringify(searchGramsOf(r.search_text)))],
    );
  }
}
