import { TokenBucket, backoffMs } from './rate';
import { msLeftInWindow, msUntilWindow, parseWindow } from './windows';

const at = (h: number, m = 0) => new Date(2026, 10, 28, h, m, 0);

describe('receive windows, backoff and the bandwidth cap', () => {
  it('windows cross midnight; inside one the time left counts to its end, outside the wait to the next', () => {
    const night = [parseWindow('22:00-06:00')];
    expect(msLeftInWindow(night, at(23))).toBe(7 * 3600_000);
    expect(msLeftInWindow(night, at(5, 30))).toBe(30 * 60_000);
    expect(msLeftInWindow(night, at(12))).toBe(0);
    expect(msUntilWindow(night, at(12))).toBe(10 * 3600_000);
    expect(msUntilWindow(night, at(23))).toBe(0);
    expect(msLeftInWindow([], at(12))).toBe(Infinity);
    const two = [parseWindow('12:00-13:00'), parseWindow('22:00-23:00')];
    expect(msUntilWindow(two, at(14))).toBe(8 * 3600_000);
    expect(() => parseWindow('25:00-06:00')).toThrow();
    expect(() => parseWindow('night')).toThrow(/22:00-06:00/);
  });

  it('backoff grows exponentially with jitter between half and the whole ceiling, capped', () => {
    for (let attempt = 1; attempt <= 12; attempt += 1) {
      const ceiling = Math.min(60_000, 1000 * 2 ** (attempt - 1));
      expect(backoffMs(attempt, 1000, 60_000, () => 0)).toBe(ceiling / 2);
      expect(backoffMs(attempt, 1000, 60_000, () => 0.999999)).toBeLessThanOrEqual(ceiling);
    }
  });

  it('the token bucket holds a stream to its rate', async () => {
    const bucket = new TokenBucket(200_000);
    const started = Date.now();
    for (let i = 0; i < 20; i += 1) await bucket.take(16_384);
    const seconds = (Date.now() - started) / 1000;
    // 327,680 bytes at 200 kB/s, less the initial burst of 25,000: about 1.5 s.
    expect(seconds).toBeGreaterThan(1.3);
    expect(seconds).toBeLessThan(6);
  });
});
