import { useState } from 'preact/hooks';
import {
  ApiError,
  CoverageRegionRow,
  CoverageSchoolRow,
  CoverageSummary,
  Page,
  Region,
  School,
  Session,
  get,
  qs,
} from '../api';
import { Pager, Section, Stat, Status, Table, isMissingRoute, useLoad } from '../components';
import { fmtBytes, fmtNumber, fmtPercent, fmtTime } from '../format';
import { subjectName, t } from '../i18n';
import { ActivityCharts } from './charts';
import { GapTable } from './gap-table';

/** The chain of regions from the top of the caller's scope down to `id`. */
async function ancestry(id: string): Promise<Region[]> {
  const chain: Region[] = [];
  let next: string | null = id;
  while (next && chain.length < 8) {
    try {
      const region: Region = await get<Region>(`/regions/${next}`);
      chain.unshift(region);
      next = region.parentId;
    } catch (err) {
      // Above the caller's scope regions answer 404: the chain starts where the scope does.
      if (err instanceof ApiError && err.status === 404 && chain.length) break;
      throw err;
    }
  }
  return chain;
}

/** Coverage figures may not exist yet on this server; the rest of the page works without them. */
async function optional<T>(load: Promise<T>): Promise<T | null> {
  try {
    return await load;
  } catch (err) {
    if (isMissingRoute(err)) return null;
    throw err;
  }
}

export function OverviewView(props: { regionId: string | null; session: Session }) {
  const { regionId } = props;
  const chain = useLoad(() => (regionId ? ancestry(regionId) : Promise.resolve([])), [regionId]);
  const region = chain.data?.[chain.data.length - 1] ?? null;
  const title = region ? region.name : t('national');
  const q: Record<string, string> = regionId ? { regionId } : {};

  return (
    <div class="page">
      <nav aria-label={t('region')} class="crumbs">
        <ol>
          <li>
            <a href="#/">{t('national')}</a>
          </li>
          {(chain.data ?? []).map((r) => (
            <li key={r.id}>
              <a href={`#/region/${r.id}`} aria-current={r.id === regionId ? 'page' : undefined}>
                {r.name}
              </a>
            </li>
          ))}
        </ol>
      </nav>
      <h1 tabIndex={-1}>{title}</h1>
      {chain.error ? <Status loaded={chain}>{() => null}</Status> : null}
      <Summary query={q} />
      <Children regionId={regionId} />
      <div class="grid2">
        <SchoolList status="late" title={t('lateSchools')} query={q} />
        <SchoolList status="stale" title={t('staleSchools')} query={q} />
      </div>
      <GapTable query={q} />
      <ActivityCharts query={q} />
      <SchoolsHere regionId={regionId} />
    </div>
  );
}

function Summary(props: { query: Record<string, string> }) {
  const loaded = useLoad(
    () => optional(get<CoverageSummary>(`/coverage/summary${qs(props.query)}`)),
    [props.query.regionId],
  );
  return (
    <Section id="summary" title={t('coverage')}>
      <Status loaded={loaded}>
        {(s) =>
          s === null ? (
            <p class="muted">{t('unavailable')}</p>
          ) : (
            <>
              <dl class="stats">
                <Stat label={t('schools')} value={fmtNumber(s.schools)} />
                <Stat label={t('pupils')} value={fmtNumber(s.pupils)} />
                <Stat
                  label={t('gaps')}
                  value={`${fmtNumber(s.gaps.covered)} / ${fmtNumber(s.gaps.total)}`}
                  note={fmtPercent(s.gaps.covered, s.gaps.total)}
                />
                <Stat
                  label={t('terminals')}
                  value={`${fmtNumber(s.terminals.seen24h)} / ${fmtNumber(s.terminals.total)}`}
                  note={t('seen24h')}
                />
                <Stat
                  label={t('stale')}
                  value={fmtNumber(s.terminals.stale)}
                  tone={s.terminals.stale ? 'warn' : ''}
                />
                <Stat
                  label={t('installed')}
                  value={`${fmtNumber(s.assignments.installed)} / ${fmtNumber(s.assignments.total)}`}
                />
                <Stat label={t('pending')} value={fmtNumber(s.assignments.pending)} />
                <Stat
                  label={t('late')}
                  value={fmtNumber(s.assignments.late)}
                  tone={s.assignments.late ? 'warn' : ''}
                />
                <Stat
                  label={t('failed')}
                  value={fmtNumber(s.assignments.failed)}
                  tone={s.assignments.failed ? 'bad' : ''}
                />
                <Stat label={t('bytesSent')} value={fmtBytes(s.bytes.sent)} />
                <Stat label={t('bytesSaved')} value={fmtBytes(s.bytes.saved)} />
              </dl>
              <p class="muted small">
                {t('asOf')} {fmtTime(s.asOf)}
              </p>
            </>
          )
        }
      </Status>
    </Section>
  );
}

function Children(props: { regionId: string | null }) {
  const { regionId } = props;
  const loaded = useLoad(async () => {
    const [regions, coverage] = await Promise.all([
      get<Page<Region>>(`/regions${qs({ parentId: regionId, pageSize: 500 })}`),
      optional(get<Page<CoverageRegionRow>>(`/coverage/regions${qs({ parentId: regionId })}`)),
    ]);
    const byId = new Map(
      (coverage?.items ?? []).map((row) => [row.regionId ?? row.id ?? '', row] as const),
    );
    return regions.items.map((r) => ({ region: r, figures: byId.get(r.id) ?? null }));
  }, [regionId]);
  return (
    <Section id="children" title={t('subRegions')}>
      <Status loaded={loaded}>
        {(rows) =>
          rows.length === 0 ? (
            <p class="muted">{t('none')}</p>
          ) : (
            <div class="scroll">
              <Table
                columns={[
                  t('region'),
                  t('code'),
                  { label: t('schools'), num: true },
                  { label: t('gaps'), num: true },
                  { label: t('coverage'), num: true },
                  { label: t('late'), num: true },
                  { label: t('stale'), num: true },
                ]}
              >
                {rows.map(({ region, figures: f }) => (
                  <tr key={region.id}>
                    <th scope="row">
                      <a href={`#/region/${region.id}`}>{region.name}</a>
                    </th>
                    <td>{region.code}</td>
                    <td class="num">{fmtNumber(f?.schools)}</td>
                    <td class="num">{fmtNumber(f?.gaps.total)}</td>
                    <td class="num">{f ? fmtPercent(f.gaps.covered, f.gaps.total) : '–'}</td>
                    <td class="num">{fmtNumber(f?.assignments.late)}</td>
                    <td class="num">{fmtNumber(f?.terminals.stale)}</td>
                  </tr>
                ))}
              </Table>
            </div>
          )
        }
      </Status>
    </Section>
  );
}

function SchoolList(props: {
  status: 'late' | 'stale';
  title: string;
  query: Record<string, string>;
}) {
  const loaded = useLoad(
    () =>
      optional(
        get<Page<CoverageSchoolRow>>(
          `/coverage/schools${qs({ ...props.query, status: props.status, pageSize: 10 })}`,
        ),
      ),
    [props.query.regionId, props.status],
  );
  return (
    <Section id={`schools-${props.status}`} title={props.title}>
      <Status loaded={loaded}>
        {(page) =>
          page === null ? (
            <p class="muted">{t('unavailable')}</p>
          ) : page.items.length === 0 ? (
            <p class="muted">{t('none')}</p>
          ) : (
            <>
              <ul class="plain">
                {page.items.map((s) => (
                  <li key={s.schoolId ?? s.id}>
                    <a href={`#/school/${s.schoolId ?? s.id}`}>{s.name}</a>{' '}
                    <span class="muted">{s.code}</span>
                  </li>
                ))}
              </ul>
              {page.total > page.items.length ? (
                <p class="muted small">
                  {fmtNumber(page.items.length)} / {fmtNumber(page.total)}
                </p>
              ) : null}
            </>
          )
        }
      </Status>
    </Section>
  );
}

function SchoolsHere(props: { regionId: string | null }) {
  const [page, setPage] = useState(1);
  const loaded = useLoad(
    () => get<Page<School>>(`/schools${qs({ regionId: props.regionId, page, pageSize: 25 })}`),
    [props.regionId, page],
  );
  return (
    <Section id="schools-here" title={t('schoolsHere')}>
      <Status loaded={loaded}>
        {(p) =>
          p.items.length === 0 ? (
            <p class="muted">{t('none')}</p>
          ) : (
            <>
              <div class="scroll">
                <Table
                  columns={[t('school'), t('code'), { label: t('pupils'), num: true }, t('gaps')]}
                >
                  {p.items.map((s) => (
                    <tr key={s.id}>
                      <th scope="row">
                        <a href={`#/school/${s.id}`}>{s.name}</a>
                      </th>
                      <td>{s.code}</td>
                      <td class="num">{fmtNumber(s.pupils)}</td>
                      <td>
                        {s.teacherGaps
                          .map((g) => `${subjectName(g.subject)} ${g.grades.join(',')}`)
                          .join('; ')}
                      </td>
                    </tr>
                  ))}
                </Table>
              </div>
              <Pager page={p.page} pageSize={p.pageSize} total={p.total} onPage={setPage} />
            </>
          )
        }
      </Status>
    </Section>
  );
}
