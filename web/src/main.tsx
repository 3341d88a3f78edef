import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Session, loadSession, setSession, whenUnauthorized } from './api';
import { Lang, lang, setLang, t } from './i18n';
import './styles.css';
import { LessonView } from './views/lesson';
import { LessonsView } from './views/lessons';
import { LoginView } from './views/login';
import { OverviewView } from './views/overview';
import { QueuesView } from './views/queues';
import { SchoolView } from './views/school';

/** Hash routes, so the server only ever serves one page: #/region/<id>, #/school/<id>, ... */
function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function Page(props: { route: string[]; session: Session }) {
  const [head, id] = props.route;
  switch (head) {
    case 'region':
      return <OverviewView regionId={id ?? null} session={props.session} />;
    case 'school':
      return <SchoolView schoolId={id ?? ''} />;
    case 'lessons':
      return id ? <LessonView lessonId={id} session={props.session} /> : <LessonsView />;
    case 'queues':
      return <QueuesView session={props.session} />;
    default:
      return <OverviewView regionId={null} session={props.session} />;
  }
}

function App() {
  const [session, setS] = useState<Session | null>(loadSession());
  const [language, setLanguage] = useState<Lang>(lang());
  const route = useRoute();
  useEffect(() => whenUnauthorized(() => signOut()), []);
  useEffect(() => {
    // Move focus to the new page's heading so keyboard and screen-reader users land on it.
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route.join('/'), session?.token]);

  const signOut = () => {
    setSession(null);
    setS(null);
  };
  const switchLang = (l: Lang) => {
    setLang(l);
    setLanguage(l);
  };
  const tab = route[0] ?? '';
  const current = (name: string) => (tab === name ? 'page' : undefined);

  return (
    <div class="app" key={language}>
      <a class="skip" href="#main" onClick={skipToMain}>
        {t('skip')}
      </a>
      <header class="top">
        <span class="brand">{t('appName')}</span>
        {session ? (
          <nav aria-label={t('appName')}>
            <a
              href="#/"
              aria-current={tab === '' || tab === 'region' || tab === 'school' ? 'page' : undefined}
            >
              {t('navOverview')}
            </a>
            <a href="#/lessons" aria-current={current('lessons')}>
              {t('navLessons')}
            </a>
            <a href="#/queues" aria-current={current('queues')}>
              {t('navQueues')}
            </a>
          </nav>
        ) : null}
        <div class="tools">
          <label>
            <span class="visually-hidden">{t('language')}</span>
            <select
              value={language}
              aria-label={t('language')}
              onChange={(e) => switchLang(e.currentTarget.value === 'en' ? 'en' : 'zh-CN')}
            >
              <option value="zh-CN">中文</option>
              <option value="en">English</option>
            </select>
          </label>
          {session ? (
            <>
              <span class="who">{session.user.email}</span>
              <button type="button" onClick={signOut}>
                {t('signOut')}
              </button>
            </>
          ) : null}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {session ? (
          <Page route={route} session={session} />
        ) : (
          <LoginView onLogin={(s) => setS(s)} />
        )}
      </main>
    </div>
  );
}

function skipToMain(e: Event) {
  // The hash is the router's; move focus without changing it.
  e.preventDefault();
  document.getElementById('main')?.focus();
}

render(<App />, document.getElementById('app') as HTMLElement);
