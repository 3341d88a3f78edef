/**
 * A token bucket shared by every connection of a download: the sum of their rates stays under
 * the cap. Callers await take(n) before using n bytes; reading pauses meanwhile, so TCP flow
 * control slows the sender instead of bytes piling up in memory.
 */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  readonly burst: number;

  constructor(readonly bytesPerSecond: number) {
    this.burst = Math.max(16 * 1024, Math.floor(bytesPerSecond / 8));
    this.tokens = this.burst;
  }

  static fromKbps(kbps: number | undefined): TokenBucket | undefined {
    return kbps && kbps > 0 ? new TokenBucket((kbps * 1000) / 8) : undefined;
  }

  async take(n: number, signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond,
    );
    this.last = now;
    this.tokens -= n;
    if (this.tokens >= 0) return;
    await sleep((-this.tokens / this.bytesPerSecond) * 1000, signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Exponential backoff with full jitter (AWS architecture blog): attempt 1 waits up to base,
 * each further attempt doubles the ceiling up to max. Jitter spreads thousands of terminals
 * that lost the link at the same moment.
 */
export function backoffMs(
  attempt: number,
  baseMs = 1000,
  maxMs = 300_000,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
