/** Per-school figures, in the column order of coverage_school after its key columns. */
export const SCHOOL_FIGURES = [
  'pupils',
  'terminals_total',
  'terminals_seen',
  'gaps_total',
  'gaps_covered',
  'assignments_total',
  'installed',
  'pending',
  'late',
  'failed',
  'bytes_source',
  'bytes_sent',
  'bytes_saved',
  'bytes_broadcast',
  'bytes_unicast',
  'bytes_saved_broadcast',
] as const;

/** What every coverage row carries: the school counts a region sums, and the school figures. */
export const FIGURE_COLUMNS = [
  'schools',
  'stale_schools',
  'late_schools',
  'uncovered_schools',
  ...SCHOOL_FIGURES,
] as const;
