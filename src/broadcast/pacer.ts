/**
 * Token-bucket pacing at the channel rate: the sender may send a datagram when the bucket holds
 * its size in bytes; the bucket refills at rate/8 bytes per second up to `burstBytes`, so the
 * long-run rate never exceeds the channel and short bursts stay below a transponder's buffer.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly bytesPerMs: number;

  constructor(
    readonly rateBitsPerSecond: number,
    readonly burstBytes = Math.max(16 * 1500, Math.round(rateBitsPerSecond / 8 / 100)),
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(rateBitsPerSecond > 0)) throw new RangeError('rate must be positive');
    this.bytesPerMs = rateBitsPerSecond / 8 / 1000;
    this.tokens = 0;
    this.last = this.now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burstBytes, this.tokens + (t - this.last) * this.bytesPerMs);
    this.last = t;
  }

  /** Takes `bytes` tokens when the bucket holds them. */
  tryTake(bytes: number): boolean {
    this.refill();
    if (this.tokens < bytes) return false;
    this.tokens -= bytes;
    return true;
  }

  /** Milliseconds until `bytes` tokens are there. */
  delayFor(bytes: number): number {
    this.refill();
    return this.tokens >= bytes ? 0 : (bytes - this.tokens) / this.bytesPerMs;
  }
}

/** Satellite channels count IP and UDP headers too (IPv4 20 + UDP 8 bytes). */
export const IP_UDP_OVERHEAD = 28;
