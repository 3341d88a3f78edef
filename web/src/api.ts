/** The Classcast HTTP API as the dashboard uses it: JSON, a Bearer token, the error body of API.md. */

export const API = '/api/v1';

export interface User {
  id: string;
  email: string;
  role: 'admin' | 'bureau' | 'viewer';
  bureauId: string | null;
  regionId: string | null;
}

export interface Session {
  token: string;
  user: User;
  expiresAt: number;
}

export interface Page<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SESSION_KEY = 'classcast.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    return s.expiresAt > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
}

let current: Session | null = loadSession();
let onUnauthorized: () => void = () => undefined;

export function setSession(s: Session | null): void {
  current = s;
  saveSession(s);
}

export function token(): string | null {
  return current?.token ?? null;
}

export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (current) headers.Authorization = `Bearer ${current.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data ?? {}) as { code?: string; message?: string };
    if (res.status === 401 && current) onUnauthorized();
    throw new ApiError(res.status, err.code ?? 'http_' + res.status, err.message ?? res.statusText);
  }
  return data as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});

/** Query string from the defined values only. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function login(email: string, password: string): Promise<Session> {
  const r = await request<{ accessToken: string; expiresIn: number; user: User }>(
    'POST',
    '/auth/login',
    { email, password },
  );
  const s = { token: r.accessToken, user: r.user, expiresAt: Date.now() + r.expiresIn * 1000 };
  setSession(s);
  return s;
}

// Shapes of the routes the dashboard reads (API.md).
export interface Region {
  id: string;
  code: string;
  name: string;
  level: string;
  parentId: string | null;
}

export interface CoverageFigures {
  schools: number;
  pupils: number;
  terminals: { total: number; seen24h: number; stale: number };
  gaps: { total: number; covered: number };
  assignments: { total: number; installed: number; pending: number; late: number; failed: number };
  bytes: { source: number; sent: number; saved: number };
}

export interface CoverageSummary extends CoverageFigures {
  asOf: string;
}

export interface CoverageRegionRow extends CoverageFigures {
  regionId?: string;
  id?: string;
  code?: string;
  name?: string;
}

export interface CoverageSubjectRow {
  subject: string;
  grade: number;
  gaps: number;
  covered: number;
  lessonsInstalled?: number;
  installed?: number;
}

export interface CoverageSchoolRow {
  schoolId?: string;
  id?: string;
  code: string;
  name: string;
  [k: string]: unknown;
}

export interface School {
  id: string;
  code: string;
  name: string;
  regionId: string;
  pupils: number;
  grades: number[];
  teacherGaps: { subject: string; grades: number[] }[];
  link: { downlinkKbps: number; timezone: string; windows: { start: string; end: string }[] };
  storageCapacityMb: number;
}

export interface Assignment {
  id: string;
  schoolId: string;
  lessonId: string;
  courseId: string | null;
  source: string;
  dueDate: string | null;
  priority: number;
  state: string;
  createdAt: string;
}

export interface Terminal {
  id: string;
  name: string;
  agentVersion: string | null;
  lastSeenAt: string | null;
  freeBytes: number | null;
  revokedAt: string | null;
}

export interface Bundle {
  id: string;
  state: string;
  progress: number;
  sourceBytes: number;
  bundleBytes: number | null;
  createdAt: string;
  lessons: { lessonId: string; version: number }[];
}

export interface PlanItem {
  lessonId: string;
  version: number;
  bytes: number;
  dueDate: string | null;
  priority: number;
  estimatedArrival: string | null;
  late: boolean;
  fits: boolean;
  reasons: string[];
}

export interface Plan {
  schoolId: string;
  computedAt: string;
  storage: { capacityBytes: number; plannedBytes: number; fits: boolean };
  items: PlanItem[];
}

export interface Lesson {
  id: string;
  title: string;
  subject: string;
  grades: number[];
  language: string;
  status: string;
  draftVersion: number;
  publishedVersion: number | null;
  createdAt: string;
}

export interface LessonFile {
  path: string;
  size: number;
  sha256: string;
  mediaType: string;
}

export interface Course {
  id: string;
  title: string;
  subject: string;
  grade: number;
}

export interface ActivityDay {
  day: string;
  installs: number;
  bundles: number;
  sourceBytes: number;
  bundleBytes: number;
  savedBytes: number;
}

export interface QueueCounts {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  paused: boolean;
}

export const SUBJECTS = [
  'chinese',
  'math',
  'english',
  'music',
  'art',
  'pe',
  'science',
  'ethics',
  'it',
  'labour',
  'calligraphy',
  'other',
] as const;
