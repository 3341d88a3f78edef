import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from './api';
import { t } from './i18n';

export interface Loaded<T> {
  data: T | null;
  error: ApiError | Error | null;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change; a result that arrives after a newer request is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: unknown) =>
        live &&
        setState({
          data: null,
          error: error instanceof Error ? error : new Error(String(error)),
          loading: false,
        }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

/** A route the server does not have (yet) reads as "not available", anything else as an error. */
export function isMissingRoute(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404 && err.code === 'route_not_found';
}

export function Status<T>(props: {
  loaded: Loaded<T>;
  children: (data: T) => ComponentChildren;
}): preact.JSX.Element {
  const { loaded } = props;
  if (loaded.loading && !loaded.data)
    return (
      <p class="muted" role="status">
        {t('loading')}
      </p>
    );
  if (loaded.error) {
    if (isMissingRoute(loaded.error)) return <p class="muted">{t('unavailable')}</p>;
    return (
      <p class="error" role="alert">
        {t('error')}: {loaded.error.message}{' '}
        <button type="button" class="link" onClick={loaded.reload}>
          {t('retry')}
        </button>
      </p>
    );
  }
  return <>{props.children(loaded.data as T)}</>;
}

export function Section(props: {
  id: string;
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}): preact.JSX.Element {
  return (
    <section class="panel" aria-labelledby={props.id}>
      <div class="panel-head">
        <h2 id={props.id}>{props.title}</h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

export function Stat(props: { label: string; value: string; note?: string; tone?: string }) {
  return (
    <div class={`stat ${props.tone ?? ''}`}>
      <dt>{props.label}</dt>
      <dd>
        {props.value}
        {props.note ? <span class="note"> {props.note}</span> : null}
      </dd>
    </div>
  );
}

export function Pager(props: {
  page: number;
  pageSize: number;
  total: number;
  onPage: (page: number) => void;
}) {
  const pages = Math.max(1, Math.ceil(props.total / props.pageSize));
  if (pages <= 1) return null;
  return (
    <nav class="pager" aria-label={t('page', { page: props.page, pages })}>
      <button type="button" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
        {t('prev')}
      </button>
      <span>{t('page', { page: props.page, pages })}</span>
      <button
        type="button"
        disabled={props.page >= pages}
        onClick={() => props.onPage(props.page + 1)}
      >
        {t('next')}
      </button>
    </nav>
  );
}

export interface Column {
  label: string;
  /** Numbers align right. */
  num?: boolean;
}

/** A table with one header row of column labels; the rows are its children. */
export function Table(props: { columns: (string | Column)[]; children: ComponentChildren }) {
  return (
    <table>
      <thead>
        <tr>
          {props.columns.map((c, i) => {
            const col = typeof c === 'string' ? { label: c } : c;
            return (
              <th scope="col" class={col.num ? 'num' : undefined} key={i}>
                {col.label}
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}
