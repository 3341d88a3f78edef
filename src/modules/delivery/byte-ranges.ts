/**
 * RFC 9110 section 14 byte ranges with several ranges: `bytes=0-99,200-299,-50`. Overlapping or
 * adjacent ranges are coalesced (RFC 9110 14.2 allows it); a range-set that is malformed, uses
 * another unit or asks for too many pieces is ignored (the whole representation is sent).
 */
export type RangeSet =
  | { kind: 'full' }
  | { kind: 'unsatisfiable' }
  | { kind: 'ranges'; ranges: { start: number; end: number }[] };

/** More pieces than this is not a resuming client: answer with the whole file instead. */
export const MAX_RANGES = 32;

export function parseRangeSet(header: string | undefined, size: number): RangeSet {
  if (!header) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return { kind: 'full' };
  const specs = m[1].split(',').map((s) => s.trim());
  if (specs.length === 0 || specs.length > MAX_RANGES) return { kind: 'full' };
  const satisfiable: { start: number; end: number }[] = [];
  for (const spec of specs) {
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return { kind: 'full' };
    if (r[1] === '') {
      const suffix = Number(r[2]);
      if (suffix > 0 && size > 0)
        satisfiable.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(r[1]);
    const end = r[2] === '' ? size - 1 : Number(r[2]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'full' };
    if (r[2] !== '' && end < start) return { kind: 'full' };
    if (start < size) satisfiable.push({ start, end: Math.min(end, size - 1) });
  }
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' };
  satisfiable.sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const r of satisfiable) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return { kind: 'ranges', ranges: merged };
}

/** True when an If-Range precondition holds: only our strong ETag matches (RFC 9110 13.1.5). */
export function ifRangeHolds(ifRange: string | undefined, etag: string): boolean {
  if (ifRange === undefined) return true;
  return ifRange.trim() === etag;
}

/** True when If-None-Match names this ETag (or is `*`); weak comparison, as RFC 9110 13.1.2 says. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}
