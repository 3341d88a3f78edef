/**
 * The lesson search: filters plus a text query whose every word must match. Words of three or
 * more characters match by full text or by trigram substring (GIN indexes on search_tsv and
 * search_text); one- or two-character CJK words, which trigrams cannot see, match through the
 * indexed unigrams and bigrams in search_grams; short Latin words match as prefixes. Results come
 * newest first: ranking every match before the page is cut would cost more than it helps here.
 */
export interface LessonSearchParams {
  subject?: string;
  grade?: number;
  language?: string;
  bureauId?: string;
  status?: 'draft' | 'published' | 'retired';
  q?: string;
  /** Non-admins: published lessons, plus drafts of this bureau when given. */
  restrictToPublished?: boolean;
  visibleToBureau?: string | null;
  offset: number;
  limit: number;
}

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]/u;
const CJK_RUN = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+/gu;
/** Grams come from the start of the text only: titles and tags, not whole descriptions. */
const GRAM_SOURCE_CHARS = 600;

export function normaliseSearchText(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

/** Every CJK character and pair of neighbouring CJK characters in the text, once each. */
export function searchGramsOf(text: string): string[] {
  const grams = new Set<string>();
  for (const run of normaliseSearchText(text).slice(0, GRAM_SOURCE_CHARS).match(CJK_RUN) ?? []) {
    const chars = [...run];
    chars.forEach((c, i) => {
      grams.add(c);
      if (i + 1 < chars.length) grams.add(c + chars[i + 1]);
    });
  }
  return [...grams].sort();
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export interface LessonSearchSql {
  /** The page, newest first: the created_at index serves it without sorting every match. */
  sql: string;
  values: unknown[];
  /** The total, run beside the page. */
  countSql: string;
  countValues: unknown[];
}

export function buildLessonSearch(p: LessonSearchParams): LessonSearchSql {
  const values: unknown[] = [];
  const param = (v: unknown) => `$${values.push(v)}`;
  const where: string[] = [];
  if (p.subject) where.push(`l.subject = ${param(p.subject)}`);
  if (p.grade) where.push(`l.grades @> ARRAY[${param(p.grade)}::int]`);
  if (p.language) where.push(`l.language = ${param(p.language)}`);
  if (p.bureauId) where.push(`l.bureau_id = ${param(p.bureauId)}`);
  where.push(p.status === 'retired' ? `l.status = 'retired'` : `l.status = 'active'`);
  if (p.status === 'published') where.push('l.published_version IS NOT NULL');
  if (p.status === 'draft') where.push('l.published_version IS NULL');
  if (p.restrictToPublished) {
    where.push(
      p.visibleToBureau
        ? `(l.published_version IS NOT NULL OR l.bureau_id = ${param(p.visibleToBureau)})`
        : 'l.published_version IS NOT NULL',
    );
  }
  const words = p.q ? normaliseSearchText(p.q).split(/\s+/).filter(Boolean).slice(0, 8) : [];
  for (const word of words) {
    const chars = [...word];
    if (chars.length <= 2 && chars.every((c) => CJK.test(c))) {
      where.push(`l.search_grams @> ARRAY[${param(word)}]::text[]`);
    } else if (chars.length <= 2) {
      const prefix = word.replace(/[^\p{L}\p{N}]/gu, '');
      if (!prefix) continue;
      where.push(`l.search_tsv @@ to_tsquery('simple', ${param(`${prefix}:*`)})`);
    } else {
      const tsq = param(word);
      where.push(
        `(l.search_tsv @@ plainto_tsquery('simple', ${tsq}) OR l.search_text LIKE ${param(`%${escapeLike(word)}%`)} ESCAPE '\\')`,
      );
    }
  }
  const whereSql = where.map((w) => `(${w})`).join(' AND ');
  const countValues = [...values];
  const sql = `SELECT l.* FROM lesson l WHERE ${whereSql}
    ORDER BY l.created_at DESC, l.id ASC LIMIT ${param(p.limit)} OFFSET ${param(p.offset)}`;
  return {
    sql,
    values,
    countSql: `SELECT count(*)::int AS n FROM lesson l WHERE ${whereSql}`,
    countValues,
  };
}
