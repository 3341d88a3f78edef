import { EnvError, loadEnv } from './env';

const minimal = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/classcast',
  REDIS_URL: 'redis://127.0.0.1:6379',
  DATA_DIR: '/var/lib/classcast',
  ADMIN_EMAIL: 'admin@example.org',
  ADMIN_PASSWORD: 'a-long-password',
  JWT_SECRET: 'x'.repeat(32),
};

function problems(source: Record<string, string | undefined>): string[] {
  try {
    loadEnv(source);
    return [];
  } catch (err) {
    if (err instanceof EnvError) return err.problems;
    throw err;
  }
}

describe('loadEnv', () => {
  it('starts with only the variables every deployment relies on, with working defaults', () => {
    const env = loadEnv({ ...minimal, NODE_ENV: 'production' });
    expect(env).toMatchObject({
      port: 3000,
      role: 'all',
      redisPrefix: 'classcast',
      storageDriver: 'fs',
      migrateOnBoot: true,
      uploadIdleHours: 24,
    });
  });

  it.each(Object.keys(minimal))('names %s when it is missing', (name) => {
    const source: Record<string, string | undefined> = { ...minimal, [name]: undefined };
    expect(problems(source).join('\n')).toContain(name);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['ROLE', 'painter'],
    ['DATABASE_URL', 'mysql://localhost/x'],
    ['REDIS_URL', 'not a url'],
    ['STORAGE_DRIVER', 'floppy'],
    ['JWT_SECRET', 'short'],
    ['ADMIN_PASSWORD', 'short'],
    ['ADMIN_EMAIL', 'nobody'],
    ['DB_MIGRATE_ON_BOOT', 'perhaps'],
    ['REDIS_PREFIX', 'has space'],
    ['UPLOAD_MAX_FILE_MB', '0'],
  ])('names %s when it is invalid (%s)', (name, value) => {
    expect(problems({ ...minimal, [name]: value }).join('\n')).toContain(name);
  });

  it('needs S3_BUCKET only with the s3 driver', () => {
    expect(problems({ ...minimal, STORAGE_DRIVER: 's3' }).join('\n')).toContain('S3_BUCKET');
    expect(loadEnv({ ...minimal, STORAGE_DRIVER: 's3', S3_BUCKET: 'lessons' }).s3.bucket).toBe(
      'lessons',
    );
  });

  it('hands sync bytes off only to a server that can reach the blobs', () => {
    expect(loadEnv(minimal).syncBytes).toBe('embedded');
    expect(loadEnv({ ...minimal, SYNC_BYTES: 'x-accel' }).syncAccelPrefix).toBe(
      '/_classcast_blobs/',
    );
    expect(
      problems({ ...minimal, SYNC_BYTES: 'x-accel', STORAGE_DRIVER: 's3', S3_BUCKET: 'b' }).join(
        '\n',
      ),
    ).toContain('SYNC_BYTES');
    expect(problems({ ...minimal, SYNC_BYTES: 's3-presign' }).join('\n')).toContain('SYNC_BYTES');
    expect(problems({ ...minimal, SYNC_BYTES: 'nginx' }).join('\n')).toContain('SYNC_BYTES');
    expect(problems({ ...minimal, SYNC_ACCEL_PREFIX: 'blobs' }).join('\n')).toContain(
      'SYNC_ACCEL_PREFIX',
    );
    expect(problems({ ...minimal, SYNC_POLL_JITTER_PERCENT: '95' }).join('\n')).toContain(
      'SYNC_POLL_JITTER_PERCENT',
    );
  });

  it('reports every problem at once', () => {
    expect(problems({})).toHaveLength(6);
  });
});
