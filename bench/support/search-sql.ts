import { buildLessonSearch } from '../../src/modules/catalog/lesson-search';

/**
 * The SQL GET /lessons sends for a query, from the same builder LessonsRepository uses, so
 * EXPLAIN ANALYZE shows where a slow shape spends its time.
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

export function searchSql(p: SearchParams): {
  page: string;
  values: unknown[];
  count: string;
  countValues: unknown[];
} {
  const built = buildLessonSearch({
    q: p.q,
    subject: p.subject,
    grade: p.grade,
    language: p.language,
    restrictToPublished: p.visibleToBureau !== undefined,
    visibleToBureau: p.visibleToBureau ?? null,
    offset: ((p.page ?? 1) - 1) * p.pageSize,
    limit: p.pageSize,
  });
  return {
    page: built.sql,
    values: built.values,
    count: built.countSql,
    countValues: built.countValues,
  };
}
