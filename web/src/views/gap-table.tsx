import { CoverageSubjectRow, Page, get, qs } from '../api';
import { Section, Status, isMissingRoute, useLoad } from '../components';
import { fmtNumber } from '../format';
import { subjectName, t } from '../i18n';

/** Subjects down, grades across; each cell "covered / gaps", shaded by how much is covered. */
export function GapTable(props: { query: Record<string, string> }) {
  const loaded = useLoad(async () => {
    try {
      return await get<Page<CoverageSubjectRow>>(`/coverage/subjects${qs(props.query)}`);
    } catch (err) {
      if (isMissingRoute(err)) return null;
      throw err;
    }
  }, [props.query.regionId]);
  return (
    <Section id="gap-table" title={t('gapTable')}>
      <Status loaded={loaded}>
        {(page) => {
          if (page === null) return <p class="muted">{t('unavailable')}</p>;
          const rows = page.items.filter((r) => r.gaps > 0);
          if (!rows.length) return <p class="muted">{t('none')}</p>;
          const subjects = [...new Set(rows.map((r) => r.subject))].sort();
          const grades = [...new Set(rows.map((r) => r.grade))].sort((a, b) => a - b);
          const cell = new Map(rows.map((r) => [`${r.subject}:${r.grade}`, r]));
          return (
            <div class="scroll">
              <table class="gaps">
                <caption class="muted small">{t('gapTableNote')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('subject')}</th>
                    {grades.map((g) => (
                      <th scope="col" class="num" key={g}>
                        {t('grade')} {g}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {subjects.map((s) => (
                    <tr key={s}>
                      <th scope="row">{subjectName(s)}</th>
                      {grades.map((g) => {
                        const r = cell.get(`${s}:${g}`);
                        if (!r)
                          return (
                            <td class="num muted" key={g}>
                              –
                            </td>
                          );
                        const ratio = r.gaps ? r.covered / r.gaps : 1;
                        const tone = ratio >= 0.9 ? 'good' : ratio >= 0.5 ? 'warn' : 'bad';
                        return (
                          <td class={`num cell-${tone}`} key={g}>
                            {fmtNumber(r.covered)} / {fmtNumber(r.gaps)}
                          </td>
                        );
                      })}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Status>
    </Section>
  );
}
