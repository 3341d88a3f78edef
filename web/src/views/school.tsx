import { useState } from 'preact/hooks';
import { Assignment, Bundle, Lesson, Page, Plan, School, Terminal, get, qs } from '../api';
import { Pager, Section, Stat, Status, Table, useLoad } from '../components';
import { fmtBytes, fmtNumber, fmtTime } from '../format';
import { stateName, subjectName, t } from '../i18n';

const STALE_MS = 24 * 3600 * 1000;

/** Titles of the lessons named on a page, fetched once each. */
const titles = new Map<string, Promise<string>>();
function lessonTitle(id: string): Promise<string> {
  let p = titles.get(id);
  if (!p) {
    p = get<Lesson>(`/lessons/${id}`).then(
      (l) => l.title,
      () => id.slice(0, 8),
    );
    titles.set(id, p);
  }
  return p;
}

async function withTitles<T extends { lessonId: string }>(
  rows: T[],
): Promise<(T & { title: string })[]> {
  const names = await Promise.all(rows.map((r) => lessonTitle(r.lessonId)));
  return rows.map((r, i) => ({ ...r, title: names[i] }));
}

export function SchoolView(props: { schoolId: string }) {
  const { schoolId } = props;
  const school = useLoad(() => get<School>(`/schools/${schoolId}`), [schoolId]);
  return (
    <div class="page">
      <nav aria-label={t('region')} class="crumbs">
        <ol>
          <li>
            <a href="#/">{t('national')}</a>
          </li>
          {school.data ? (
            <li>
              <a href={`#/region/${school.data.regionId}`}>{t('region')}</a>
            </li>
          ) : null}
        </ol>
      </nav>
      <h1 tabIndex={-1}>{school.data ? school.data.name : t('school')}</h1>
      <Status loaded={school}>
        {(s) => (
          <>
            <Section id="school-facts" title={t('school')}>
              <dl class="stats">
                <Stat label={t('code')} value={s.code} />
                <Stat label={t('pupils')} value={fmtNumber(s.pupils)} />
                <Stat label={t('gradesLabel')} value={s.grades.join(', ')} />
                <Stat
                  label={t('gaps')}
                  value={
                    s.teacherGaps
                      .map((g) => `${subjectName(g.subject)} ${g.grades.join(',')}`)
                      .join('; ') || t('none')
                  }
                />
                <Stat label={t('link')} value={`${fmtNumber(s.link.downlinkKbps)} kbit/s`} />
                <Stat
                  label={t('windows')}
                  value={
                    s.link.windows.map((w) => `${w.start}–${w.end}`).join(', ') || t('alwaysOn')
                  }
                  note={s.link.timezone}
                />
                <Stat label={t('storage')} value={fmtBytes(s.storageCapacityMb * 1024 * 1024)} />
              </dl>
            </Section>
            <Terminals schoolId={s.id} />
            <Assignments schoolId={s.id} />
            <DeliveryPlan schoolId={s.id} />
            <Deliveries schoolId={s.id} />
          </>
        )}
      </Status>
    </div>
  );
}

function Terminals(props: { schoolId: string }) {
  const loaded = useLoad(
    () => get<Page<Terminal>>(`/schools/${props.schoolId}/terminals${qs({ pageSize: 100 })}`),
    [props.schoolId],
  );
  return (
    <Section id="terminals" title={t('terminals')}>
      <Status loaded={loaded}>
        {(p) =>
          p.items.length === 0 ? (
            <p class="muted">{t('none')}</p>
          ) : (
            <Table
              columns={[
                t('name'),
                t('lastSeen'),
                t('agentVersion'),
                { label: t('freeSpace'), num: true },
              ]}
            >
              {p.items.map((term) => {
                const stale =
                  !term.lastSeenAt || Date.now() - new Date(term.lastSeenAt).getTime() > STALE_MS;
                return (
                  <tr key={term.id}>
                    <th scope="row">
                      {term.name}
                      {term.revokedAt ? <span class="badge">{t('revoked')}</span> : null}
                    </th>
                    <td class={stale ? 'warn-text' : ''}>
                      {term.lastSeenAt ? fmtTime(term.lastSeenAt) : t('never')}
                      {stale && term.lastSeenAt ? <span class="badge">{t('stale')}</span> : null}
                    </td>
                    <td>{term.agentVersion ?? '–'}</td>
                    <td class="num">{fmtBytes(term.freeBytes)}</td>
                  </tr>
                );
              })}
            </Table>
          )
        }
      </Status>
    </Section>
  );
}

function Assignments(props: { schoolId: string }) {
  const [page, setPage] = useState(1);
  const loaded = useLoad(async () => {
    const p = await get<Page<Assignment>>(
      `/assignments${qs({ schoolId: props.schoolId, page, pageSize: 25 })}`,
    );
    return { ...p, items: await withTitles(p.items) };
  }, [props.schoolId, page]);
  return (
    <Section id="assignments" title={t('assignments')}>
      <Status loaded={loaded}>
        {(p) =>
          p.items.length === 0 ? (
            <p class="muted">{t('none')}</p>
          ) : (
            <>
              <Table
                columns={[
                  t('lesson'),
                  t('state'),
                  t('dueDate'),
                  { label: t('priority'), num: true },
                  t('source'),
                ]}
              >
                {p.items.map((a) => (
                  <tr key={a.id}>
                    <th scope="row">{a.title}</th>
                    <td>
                      <span class={`state state-${a.state}`}>{stateName(a.state)}</span>
                    </td>
                    <td>{a.dueDate ?? '–'}</td>
                    <td class="num">{a.priority}</td>
                    <td>{a.source}</td>
                  </tr>
                ))}
              </Table>
              <Pager page={p.page} pageSize={p.pageSize} total={p.total} onPage={setPage} />
            </>
          )
        }
      </Status>
    </Section>
  );
}

function DeliveryPlan(props: { schoolId: string }) {
  const loaded = useLoad(async () => {
    const plan = await get<Plan>(`/schools/${props.schoolId}/plan`);
    return { ...plan, items: await withTitles(plan.items.slice(0, 100)) };
  }, [props.schoolId]);
  return (
    <Section id="plan" title={t('plan')}>
      <Status loaded={loaded}>
        {(plan) => (
          <>
            <p>
              {t('planStorage', {
                planned: fmtBytes(plan.storage.plannedBytes),
                capacity: fmtBytes(plan.storage.capacityBytes),
              })}{' '}
              <span class={plan.storage.fits ? 'good-text' : 'bad-text'}>
                {plan.storage.fits ? t('planFits') : t('planNoFit')}
              </span>
            </p>
            {plan.items.length === 0 ? (
              <p class="muted">{t('none')}</p>
            ) : (
              <Table
                columns={[
                  t('lesson'),
                  { label: t('size'), num: true },
                  t('dueDate'),
                  t('eta'),
                  t('late'),
                  t('fits'),
                  t('reasons'),
                ]}
              >
                {plan.items.map((i) => (
                  <tr key={`${i.lessonId}:${i.version}`} class={i.late ? 'row-late' : ''}>
                    <th scope="row">
                      {i.title} <span class="muted">v{i.version}</span>
                    </th>
                    <td class="num">{fmtBytes(i.bytes)}</td>
                    <td>{i.dueDate ?? '–'}</td>
                    <td>{fmtTime(i.estimatedArrival)}</td>
                    <td>{i.late ? t('yes') : t('no')}</td>
                    <td>{i.fits ? t('yes') : t('no')}</td>
                    <td>{i.reasons.join(', ')}</td>
                  </tr>
                ))}
              </Table>
            )}
            <p class="muted small">
              {t('asOf')} {fmtTime(plan.computedAt)}
            </p>
          </>
        )}
      </Status>
    </Section>
  );
}

function Deliveries(props: { schoolId: string }) {
  const loaded = useLoad(
    () => get<Page<Bundle>>(`/bundles${qs({ schoolId: props.schoolId, pageSize: 25 })}`),
    [props.schoolId],
  );
  return (
    <Section id="deliveries" title={t('deliveries')}>
      <Status loaded={loaded}>
        {(p) =>
          p.items.length === 0 ? (
            <p class="muted">{t('none')}</p>
          ) : (
            <Table
              columns={[
                t('bundle'),
                t('state'),
                { label: t('lessons'), num: true },
                { label: t('bytesSource'), num: true },
                { label: t('size'), num: true },
                t('created'),
              ]}
            >
              {p.items.map((b) => (
                <tr key={b.id}>
                  <th scope="row">
                    <code>{b.id.slice(0, 8)}</code>
                  </th>
                  <td>
                    <span class={`state state-${b.state}`}>{stateName(b.state)}</span>
                    {b.state === 'building' ? ` ${b.progress}%` : ''}
                  </td>
                  <td class="num">{b.lessons.length}</td>
                  <td class="num">{fmtBytes(b.sourceBytes)}</td>
                  <td class="num">{fmtBytes(b.bundleBytes)}</td>
                  <td>{fmtTime(b.createdAt)}</td>
                </tr>
              ))}
            </Table>
          )
        }
      </Status>
    </Section>
  );
}
