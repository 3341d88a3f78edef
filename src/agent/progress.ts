import type { AgentLogger } from './log';

/**
 * Download progress: a bar with rate and ETA redrawn in place on a terminal, a plain log line
 * every `logEveryMs` otherwise (a service's journal must not fill with carriage returns).
 */
export class Progress {
  private started = Date.now();
  private lastDraw = 0;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly log: AgentLogger,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly logEveryMs = 10_000,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(have: number, total: number, received: number): void {
    const now = Date.now();
    const every = this.tty ? 200 : this.logEveryMs;
    if (now - this.lastDraw < every && have < total) return;
    this.lastDraw = now;
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const rate = received / seconds;
    const eta = rate > 0 ? (total - have) / rate : Infinity;
    const pct = total > 0 ? (have / total) * 100 : 100;
    if (this.tty) {
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      this.stream.write(
        `\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct.toFixed(1)}% ` +
          `${formatBytes(have)}/${formatBytes(total)} ${formatBytes(rate)}/s ETA ${formatEta(eta)}   `,
      );
      if (have >= total) this.stream.write('\n');
    } else {
      this.log.info(
        {
          what: this.label,
          have,
          total,
          percent: Number(pct.toFixed(1)),
          bytesPerSecond: Math.round(rate),
          etaSeconds: Number.isFinite(eta) ? Math.round(eta) : null,
        },
        'download progress',
      );
    }
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
