import { lang } from './i18n';

export function fmtNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return new Intl.NumberFormat(lang()).format(n);
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${new Intl.NumberFormat(lang(), { maximumFractionDigits: i ? 1 : 0 }).format(v)} ${units[i]}`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  return new Intl.DateTimeFormat(lang(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

export function fmtPercent(part: number, whole: number): string {
  if (!whole) return '–';
  return new Intl.NumberFormat(lang(), { style: 'percent', maximumFractionDigits: 1 }).format(
    part / whole,
  );
}
