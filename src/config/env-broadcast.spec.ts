import { EnvError, loadEnv } from './env';

const minimal = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/classcast',
  REDIS_URL: 'redis://127.0.0.1:6379',
  DATA_DIR: '/var/lib/classcast',
  ADMIN_EMAIL: 'admin@example.org',
  ADMIN_PASSWORD: 'a-long-password',
  JWT_SECRET: 'x'.repeat(32),
};

function problems(source: Record<string, string>): string {
  try {
    loadEnv({ ...minimal, ...source });
    return '';
  } catch (err) {
    if (err instanceof EnvError) return err.problems.join('\n');
    throw err;
  }
}

describe('broadcast settings', () => {
  it('defaults: 20 Mbit/s, always open, two cycles, 5 % expected loss, no addresses', () => {
    expect(loadEnv(minimal).broadcast).toEqual({
      rateKbps: 20000,
      windows: [],
      timezone: 'UTC',
      cycles: 2,
      minSchools: 2,
      expectedLoss: 0.05,
      repairFraction: 0.01,
      addresses: [],
      ttl: 16,
      multicastInterface: undefined,
      tsi: 1,
      repairGraceHours: 24,
    });
  });

  it('reads windows and a list of addresses', () => {
    const b = loadEnv({
      ...minimal,
      BROADCAST_WINDOWS: '22:00-06:00; 12:00-13:00',
      BROADCAST_ADDRESSES: '239.1.2.3:4000, 127.0.0.1:4001',
      BROADCAST_TIMEZONE: 'Asia/Shanghai',
    }).broadcast;
    expect(b.windows).toEqual([
      { start: '22:00', end: '06:00' },
      { start: '12:00', end: '13:00' },
    ]);
    expect(b.addresses).toEqual([
      { host: '239.1.2.3', port: 4000 },
      { host: '127.0.0.1', port: 4001 },
    ]);
    expect(b.timezone).toBe('Asia/Shanghai');
  });

  it.each([
    ['BROADCAST_WINDOWS', '22:00-25:00'],
    ['BROADCAST_WINDOWS', 'nightly'],
    ['BROADCAST_ADDRESSES', '239.1.2.3'],
    ['BROADCAST_ADDRESSES', '300.1.2.3:4000'],
    ['BROADCAST_ADDRESSES', '239.1.2.3:70000'],
    ['BROADCAST_TIMEZONE', 'Mars/Olympus'],
    ['BROADCAST_RATE_KBPS', '0'],
    ['BROADCAST_EXPECTED_LOSS_PERCENT', '80'],
    ['BROADCAST_MIN_SCHOOLS', '1'],
  ])('names %s=%s', (name, value) => {
    expect(problems({ [name]: value })).toContain(name);
  });
});
