import { useState } from 'preact/hooks';
import { ApiError, Lesson, LessonFile, Page, Session, get, post, qs } from '../api';
import { Section, Stat, Status, Table, useLoad } from '../components';
import { fmtBytes } from '../format';
import { stateName, subjectName, t } from '../i18n';
import { AssignForm } from './assign';
import { UploadForm } from './upload';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function LessonView(props: { lessonId: string; session: Session }) {
  const { lessonId } = props;
  const lesson = useLoad(() => get<Lesson>(`/lessons/${lessonId}`), [lessonId]);
  const canWrite = props.session.user.role !== 'viewer';
  return (
    <div class="page">
      <p>
        <a href="#/lessons">← {t('back')}</a>
      </p>
      <h1 tabIndex={-1}>{lesson.data ? lesson.data.title : t('lesson')}</h1>
      <Status loaded={lesson}>
        {(l) => (
          <>
            <Section id="lesson-facts" title={t('lesson')}>
              <dl class="stats">
                <Stat label={t('subject')} value={subjectName(l.subject)} />
                <Stat label={t('gradesLabel')} value={l.grades.join(', ')} />
                <Stat label={t('language_')} value={l.language} />
                <Stat label={t('status')} value={stateName(l.status)} />
                <Stat
                  label={t('published')}
                  value={l.publishedVersion ? `v${l.publishedVersion}` : '–'}
                />
                <Stat label={t('draft')} value={`v${l.draftVersion}`} />
              </dl>
            </Section>
            <DraftFiles lesson={l} canWrite={canWrite} onChange={lesson.reload} />
            {canWrite ? <Publish lesson={l} onPublished={lesson.reload} /> : null}
            {canWrite ? (
              l.publishedVersion ? (
                <AssignForm lesson={l} />
              ) : (
                <Section id="assign" title={t('assign')}>
                  <p class="muted">{t('mustPublish')}</p>
                </Section>
              )
            ) : (
              <p class="muted">{t('forbiddenBureau')}</p>
            )}
          </>
        )}
      </Status>
    </div>
  );
}

function DraftFiles(props: { lesson: Lesson; canWrite: boolean; onChange: () => void }) {
  const { lesson } = props;
  const [tick, setTick] = useState(0);
  const [waiting, setWaiting] = useState<string | null>(null);
  const files = useLoad(
    () =>
      get<Page<LessonFile>>(
        `/lessons/${lesson.id}/versions/${lesson.draftVersion}/files${qs({ pageSize: 500 })}`,
      ),
    [lesson.id, lesson.draftVersion, tick],
  );

  // A finished tus upload lands in the draft shortly after (API.md: within 30 s); watch for it.
  const uploaded = async (path: string) => {
    setWaiting(path);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const page = await get<Page<LessonFile>>(
        `/lessons/${lesson.id}/versions/${lesson.draftVersion}/files${qs({ pageSize: 500 })}`,
      ).catch(() => null);
      if (page?.items.some((f) => f.path === path)) break;
      await sleep(1000);
    }
    setWaiting(null);
    setTick((n) => n + 1);
  };

  return (
    <Section id="files" title={t('files')}>
      <Status loaded={files}>
        {(p) =>
          p.items.length === 0 ? (
            <p class="muted">{t('none')}</p>
          ) : (
            <Table columns={[t('name'), { label: t('size'), num: true }, 'Type']}>
              {p.items.map((f) => (
                <tr key={f.path}>
                  <th scope="row">{f.path}</th>
                  <td class="num">{fmtBytes(f.size)}</td>
                  <td>{f.mediaType}</td>
                </tr>
              ))}
            </Table>
          )
        }
      </Status>
      {waiting ? (
        <p class="muted" role="status">
          {t('loading')} {waiting}
        </p>
      ) : null}
      {props.canWrite ? (
        <>
          <h3>{t('upload')}</h3>
          <UploadForm lessonId={lesson.id} onUploaded={(path) => void uploaded(path)} />
        </>
      ) : null}
    </Section>
  );
}

function Publish(props: { lesson: Lesson; onPublished: () => void }) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const publish = async () => {
    setBusy(true);
    setMessage(null);
    try {
      const l = await post<Lesson>(`/lessons/${props.lesson.id}/publish`);
      setMessage({ ok: true, text: t('publishedAs', { version: l.publishedVersion ?? '' }) });
      props.onPublished();
    } catch (err) {
      setMessage({ ok: false, text: err instanceof ApiError ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section id="publish" title={t('publish')}>
      <button type="button" class="primary" disabled={busy} onClick={() => void publish()}>
        {t('publish')}
      </button>
      {message ? (
        <p class={message.ok ? 'good-text' : 'error'} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </p>
      ) : null}
    </Section>
  );
}
