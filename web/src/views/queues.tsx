import { useState } from 'preact/hooks';
import { Page, QueueCounts, Session, post } from '../api';
import { get } from '../api';
import { Section, Status, Table, useLoad } from '../components';
import { fmtNumber, fmtTime } from '../format';
import { t } from '../i18n';

export function QueuesView(props: { session: Session }) {
  const admin = props.session.user.role === 'admin';
  const loaded = useLoad(
    () =>
      admin
        ? get<Page<QueueCounts> & { asOf: string }>('/dashboard/queues')
        : Promise.resolve(null),
    [admin],
  );
  const [opening, setOpening] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const openBoard = async () => {
    setOpening(true);
    setError(null);
    try {
      // The board is a separate page: it takes the HttpOnly session cookie, not the Bearer token.
      await post<void>('/auth/session');
      location.assign('/admin/queues');
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setOpening(false);
    }
  };

  return (
    <div class="page">
      <h1 tabIndex={-1}>{t('queues')}</h1>
      <Section
        id="queue-counts"
        title={t('queues')}
        actions={
          admin ? (
            <button type="button" onClick={() => void openBoard()} disabled={opening}>
              {t('openBullBoard')}
            </button>
          ) : null
        }
      >
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        {!admin ? (
          <p class="muted">{t('queuesAdminOnly')}</p>
        ) : (
          <Status loaded={loaded}>
            {(p) =>
              p === null ? null : (
                <>
                  <Table
                    columns={[
                      t('queue'),
                      { label: t('waiting'), num: true },
                      { label: t('active'), num: true },
                      { label: t('delayed'), num: true },
                      { label: t('failed'), num: true },
                      { label: t('completed'), num: true },
                    ]}
                  >
                    {p.items.map((q) => (
                      <tr key={q.name}>
                        <th scope="row">
                          {q.name} {q.paused ? <span class="badge">{t('paused')}</span> : null}
                        </th>
                        <td class="num">{fmtNumber(q.waiting)}</td>
                        <td class="num">{fmtNumber(q.active)}</td>
                        <td class="num">{fmtNumber(q.delayed)}</td>
                        <td class={`num ${q.failed ? 'bad-text' : ''}`}>{fmtNumber(q.failed)}</td>
                        <td class="num">{fmtNumber(q.completed)}</td>
                      </tr>
                    ))}
                  </Table>
                  <p class="muted small">
                    {t('asOf')} {fmtTime(p.asOf)}{' '}
                    <button type="button" class="link" onClick={loaded.reload}>
                      {t('retry')}
                    </button>
                  </p>
                </>
              )
            }
          </Status>
        )}
      </Section>
    </div>
  );
}
