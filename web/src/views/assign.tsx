import { useState } from 'preact/hooks';
import { ApiError, Course, Lesson, Page, Region, SUBJECTS, get, post, qs } from '../api';
import { Section, useLoad } from '../components';
import { fmtNumber } from '../format';
import { subjectName, t } from '../i18n';

/** Pick a region level by level: each choice opens a select of its children. */
function RegionPicker(props: { value: string[]; onChange: (path: string[]) => void }) {
  const levels = [null, ...props.value];
  return (
    <div class="region-picker">
      {levels.map((parentId, depth) => (
        <RegionLevel
          key={`${depth}:${parentId ?? ''}`}
          depth={depth}
          parentId={parentId}
          selected={props.value[depth] ?? ''}
          onSelect={(id) => props.onChange([...props.value.slice(0, depth), ...(id ? [id] : [])])}
        />
      ))}
    </div>
  );
}

function RegionLevel(props: {
  depth: number;
  parentId: string | null;
  selected: string;
  onSelect: (id: string) => void;
}) {
  const loaded = useLoad(
    () => get<Page<Region>>(`/regions${qs({ parentId: props.parentId, pageSize: 500 })}`),
    [props.parentId],
  );
  const items = loaded.data?.items ?? [];
  if (props.depth > 0 && loaded.data && items.length === 0) return null;
  const id = `assign-region-${props.depth}`;
  return (
    <>
      <label for={id} class="visually-hidden">
        {t('region')} {props.depth + 1}
      </label>
      <select
        id={id}
        value={props.selected}
        onChange={(e) => props.onSelect(e.currentTarget.value)}
      >
        <option value="">{props.depth === 0 ? `— ${t('region')} —` : '—'}</option>
        {items.map((r) => (
          <option value={r.id} key={r.id}>
            {r.name} ({r.code})
          </option>
        ))}
      </select>
    </>
  );
}

export function AssignForm(props: { lesson: Lesson }) {
  const { lesson } = props;
  const [what, setWhat] = useState<'lesson' | 'course'>('lesson');
  const [courseId, setCourseId] = useState('');
  const [target, setTarget] = useState<'region' | 'gap'>('region');
  const [regionPath, setRegionPath] = useState<string[]>([]);
  const [gapSubject, setGapSubject] = useState(
    lesson.subject.startsWith('x-') ? 'other' : lesson.subject,
  );
  const [gapGrade, setGapGrade] = useState(String(lesson.grades[0] ?? 1));
  const [dueDate, setDueDate] = useState('');
  const [priority, setPriority] = useState('5');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const courses = useLoad(() => get<Page<Course>>(`/courses${qs({ pageSize: 500 })}`), []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMessage(null);
    const regionId = regionPath[regionPath.length - 1];
    try {
      const body = {
        ...(what === 'lesson' ? { lessonId: lesson.id } : { courseId }),
        ...(target === 'region'
          ? { regionId }
          : { gap: { subject: gapSubject, grade: Number(gapGrade) } }),
        ...(dueDate ? { dueDate } : {}),
        priority: Number(priority),
      };
      const r = await post<{ created?: number; existing?: number; jobId?: string }>(
        '/assignments',
        body,
      );
      setMessage({
        ok: true,
        text: r.jobId
          ? t('assignQueued', { jobId: r.jobId })
          : t('assignResult', {
              created: fmtNumber(r.created ?? 0),
              existing: fmtNumber(r.existing ?? 0),
            }),
      });
    } catch (err) {
      setMessage({ ok: false, text: err instanceof ApiError ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  };

  const regionChosen = regionPath.length > 0;
  return (
    <Section id="assign" title={t('assign')}>
      <form class="form grid-form" onSubmit={(e) => void submit(e)}>
        <span id="assign-what-label">{t('assignWhat')}</span>
        <div role="radiogroup" aria-labelledby="assign-what-label" class="choices">
          <label>
            <input
              type="radio"
              name="what"
              checked={what === 'lesson'}
              onChange={() => setWhat('lesson')}
            />{' '}
            {t('thisLesson')}
          </label>
          <label>
            <input
              type="radio"
              name="what"
              checked={what === 'course'}
              onChange={() => setWhat('course')}
            />{' '}
            {t('course')}
          </label>
          {what === 'course' ? (
            <>
              <label for="assign-course" class="visually-hidden">
                {t('course')}
              </label>
              <select
                id="assign-course"
                required
                value={courseId}
                onChange={(e) => setCourseId(e.currentTarget.value)}
              >
                <option value="">—</option>
                {(courses.data?.items ?? []).map((c) => (
                  <option value={c.id} key={c.id}>
                    {c.title} ({subjectName(c.subject)} {c.grade})
                  </option>
                ))}
              </select>
            </>
          ) : null}
        </div>
        <span id="assign-target-label">{t('target')}</span>
        <div role="radiogroup" aria-labelledby="assign-target-label" class="choices">
          <label>
            <input
              type="radio"
              name="target"
              checked={target === 'region'}
              onChange={() => setTarget('region')}
            />{' '}
            {t('toRegion')}
          </label>
          <label>
            <input
              type="radio"
              name="target"
              checked={target === 'gap'}
              onChange={() => setTarget('gap')}
            />{' '}
            {t('toGap')}
          </label>
        </div>
        <span>{target === 'region' ? t('region') : t('gaps')}</span>
        {target === 'region' ? (
          <RegionPicker value={regionPath} onChange={setRegionPath} />
        ) : (
          <div class="choices">
            <label for="assign-gap-subject">{t('subject')}</label>
            <select
              id="assign-gap-subject"
              value={gapSubject}
              onChange={(e) => setGapSubject(e.currentTarget.value)}
            >
              {SUBJECTS.map((s) => (
                <option value={s} key={s}>
                  {subjectName(s)}
                </option>
              ))}
            </select>
            <label for="assign-gap-grade">{t('grade')}</label>
            <input
              id="assign-gap-grade"
              type="number"
              min={1}
              max={12}
              required
              value={gapGrade}
              onInput={(e) => setGapGrade(e.currentTarget.value)}
            />
          </div>
        )}
        <label for="assign-due">{t('dueDate')}</label>
        <input
          id="assign-due"
          type="date"
          value={dueDate}
          onInput={(e) => setDueDate(e.currentTarget.value)}
        />
        <label for="assign-priority">{t('priority')}</label>
        <input
          id="assign-priority"
          type="number"
          min={1}
          max={9}
          value={priority}
          onInput={(e) => setPriority(e.currentTarget.value)}
        />
        <div />
        <button
          type="submit"
          class="primary"
          disabled={
            busy || (target === 'region' && !regionChosen) || (what === 'course' && !courseId)
          }
        >
          {t('assign')}
        </button>
      </form>
      {message ? (
        <p class={message.ok ? 'good-text' : 'error'} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </p>
      ) : null}
    </Section>
  );
}
