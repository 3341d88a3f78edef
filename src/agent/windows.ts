/**
 * Receive windows in the terminal's local time ("22:00-06:00", crossing midnight allowed): the
 * hours a school's link is cheap or free. Outside them the agent does not download.
 */
export interface ReceiveWindow {
  start: number;
  end: number;
}

export function parseWindow(text: string): ReceiveWindow {
  const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m) throw new Error(`a receive window looks like 22:00-06:00, got "${text}"`);
  const [h1, m1, h2, m2] = m.slice(1).map(Number);
  if (h1 > 23 || h2 > 24 || m1 > 59 || m2 > 59) throw new Error(`invalid receive window "${text}"`);
  return { start: h1 * 60 + m1, end: h2 * 60 + m2 };
}

function minuteOfDay(d: Date): number {
  return d.getHours() * 60 + d.getMinutes() + d.getSeconds() / 60;
}

function inside(w: ReceiveWindow, minute: number): boolean {
  return w.start <= w.end
    ? minute >= w.start && minute < w.end
    : minute >= w.start || minute < w.end;
}

/** Milliseconds until the current window closes (0 when outside every window; Infinity: none set). */
export function msLeftInWindow(windows: ReceiveWindow[], now = new Date()): number {
  if (windows.length === 0) return Infinity;
  const minute = minuteOfDay(now);
  let best = 0;
  for (const w of windows) {
    if (!inside(w, minute)) continue;
    const left = (w.end - minute + 1440) % 1440 || 1440;
    best = Math.max(best, left);
  }
  return best * 60_000;
}

/** Milliseconds until the next window opens (0 when inside one). */
export function msUntilWindow(windows: ReceiveWindow[], now = new Date()): number {
  if (windows.length === 0 || msLeftInWindow(windows, now) > 0) return 0;
  const minute = minuteOfDay(now);
  const waits = windows.map((w) => (w.start - minute + 1440) % 1440);
  return Math.min(...waits) * 60_000;
}
