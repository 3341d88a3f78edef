import { useState } from 'preact/hooks';
import { ApiError, Lesson, Page, SUBJECTS, get, post, qs } from '../api';
import { Pager, Section, Status, Table, useLoad } from '../components';
import { fmtTime } from '../format';
import { stateName, subjectName, t } from '../i18n';

export function LessonsView() {
  const [page, setPage] = useState(1);
  const [q, setQ] = useState('');
  const [search, setSearch] = useState('');
  const loaded = useLoad(
    () => get<Page<Lesson>>(`/lessons${qs({ q: search, page, pageSize: 25 })}`),
    [search, page],
  );
  return (
    <div class="page">
      <h1 tabIndex={-1}>{t('lessons')}</h1>
      <NewLesson />
      <Section id="lesson-list" title={t('lessons')}>
        <form
          class="inline"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setPage(1);
            setSearch(q.trim());
          }}
        >
          <label for="lesson-q">{t('search')}</label>
          <input
            id="lesson-q"
            type="search"
            value={q}
            onInput={(e) => setQ(e.currentTarget.value)}
          />
          <button type="submit">{t('search')}</button>
        </form>
        <Status loaded={loaded}>
          {(p) =>
            p.items.length === 0 ? (
              <p class="muted">{t('noLessons')}</p>
            ) : (
              <>
                <Table
                  columns={[
                    t('title'),
                    t('subject'),
                    t('gradesLabel'),
                    t('status'),
                    t('version'),
                    t('created'),
                  ]}
                >
                  {p.items.map((l) => (
                    <tr key={l.id}>
                      <th scope="row">
                        <a href={`#/lessons/${l.id}`}>{l.title}</a>
                      </th>
                      <td>{subjectName(l.subject)}</td>
                      <td>{l.grades.join(', ')}</td>
                      <td>{stateName(l.status)}</td>
                      <td>
                        {l.publishedVersion ? `${t('published')} v${l.publishedVersion}` : ''}{' '}
                        <span class="muted">
                          {t('draft')} v{l.draftVersion}
                        </span>
                      </td>
                      <td>{fmtTime(l.createdAt)}</td>
                    </tr>
                  ))}
                </Table>
                <Pager page={p.page} pageSize={p.pageSize} total={p.total} onPage={setPage} />
              </>
            )
          }
        </Status>
      </Section>
    </div>
  );
}

function NewLesson() {
  const [title, setTitle] = useState('');
  const [subject, setSubject] = useState('english');
  const [grades, setGrades] = useState('3');
  const [language, setLanguage] = useState('zh-CN');
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const gradeList = grades
        .split(/[\s,;，、]+/)
        .filter(Boolean)
        .map(Number);
      const lesson = await post<Lesson>('/lessons', {
        title: title.trim(),
        subject,
        grades: gradeList,
        language: language.trim(),
        ...(description.trim() ? { description: description.trim() } : {}),
      });
      location.hash = `#/lessons/${lesson.id}`;
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section id="new-lesson" title={t('newLesson')}>
      <form class="form grid-form" onSubmit={(e) => void submit(e)}>
        <label for="nl-title">{t('title')}</label>
        <input
          id="nl-title"
          required
          maxLength={300}
          value={title}
          onInput={(e) => setTitle(e.currentTarget.value)}
        />
        <label for="nl-subject">{t('subject')}</label>
        <select id="nl-subject" value={subject} onChange={(e) => setSubject(e.currentTarget.value)}>
          {SUBJECTS.map((s) => (
            <option value={s} key={s}>
              {subjectName(s)}
            </option>
          ))}
        </select>
        <label for="nl-grades">{t('gradesLabel')}</label>
        <input
          id="nl-grades"
          required
          inputMode="numeric"
          pattern="[0-9 ,;]+"
          value={grades}
          onInput={(e) => setGrades(e.currentTarget.value)}
        />
        <label for="nl-language">{t('language_')}</label>
        <input
          id="nl-language"
          required
          value={language}
          onInput={(e) => setLanguage(e.currentTarget.value)}
        />
        <label for="nl-description">{t('description')}</label>
        <textarea
          id="nl-description"
          rows={2}
          value={description}
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
        <div />
        <button type="submit" class="primary" disabled={busy}>
          {t('create')}
        </button>
      </form>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
    </Section>
  );
}
