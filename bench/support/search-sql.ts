/**
 * The SQL that LessonsRepository.search (src/modules/catalog/lessons.repository.ts) sends for a
 * GET /lessons query, rebuilt here so EXPLAIN ANALYZE can show where a slow shape spends its
 * time. TypeORM's getManyAndCount sends two statements: the page and a COUNT(1).
 * Keep in step with the repository when it changes.
 */
export interface SearchParams {
  q?: string;
  subject?: string;
  grade?: number;
  language?: string;
  page?: number;
  pageSize: number;
  /** Bureau users: published lessons plus their own bureau's drafts. Admins: undefined. */
  visibleToBureau?: string;
}

/** The columns the Lesson entity maps (TypeORM never selects search_tsv). */
const COLUMNS = [
  'id',
  'bureau_id',
  'title',
  'description',
  'subject',
  'grades',
  'language',
  'curriculum_code',
  'textbook_edition',
  'duration_minutes',
  'tags',
  'teacherless_ready',
  'status',
  'draft_version',
  'published_version',
  'search_text',
  'created_by',
  'created_at',
  'updated_at',
  'retired_at',
]
  .map((c) => `l.${c}`)
  .join(', ');

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export function searchSql(p: SearchParams): { page: string; count: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const where: string[] = [];
  if (p.subject) where.push(`l.subject = ${param(p.subject)}`);
  if (p.grade) where.push(`l.grades @> ARRAY[${param(p.grade)}]::int[]`);
  if (p.language) where.push(`l.language = ${param(p.language)}`);
  where.push(`l.status = 'active'`);
  if (p.visibleToBureau) {
    where.push(`(l.published_version IS NOT NULL OR l.bureau_id = ${param(p.visibleToBureau)})`);
  }
  let order = 'l.created_at DESC';
  if (p.q) {
    const q = p.q.normalize('NFKC').toLowerCase();
    const tsq = param(q);
    where.push(
      `(l.search_tsv @@ plainto_tsquery('simple', ${tsq}) OR l.search_text LIKE ${param(`%${escapeLike(q)}%`)} ESCAPE '\\')`,
    );
    order = `ts_rank(l.search_tsv, plainto_tsquery('simple', ${tsq})) DESC, l.created_at DESC`;
  }
  const whereSql = where.map((w) => `(${w})`).join(' AND ');
  const offset = ((p.page ?? 1) - 1) * p.pageSize;
  return {
    page: `SELECT ${COLUMNS} FROM lesson l WHERE ${whereSql} ORDER BY ${order}, l.id ASC LIMIT ${p.pageSize} OFFSET ${offset}`,
    count: `SELECT COUNT(1) AS cnt FROM lesson l WHERE ${whereSql}`,
    values,
  };
}
