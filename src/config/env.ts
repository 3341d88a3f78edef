/**
 * The one reader of process.env. Every variable is parsed and validated once at boot; a missing
 * or invalid one stops the process with a message that names it and says what it should be.
 */
export type Role = 'api' | 'worker' | 'broadcast' | 'all';

export interface Env {
  nodeEnv: string;
  port: number;
  host: string;
  role: Role;
  databaseUrl: string;
  migrateOnBoot: boolean;
  redisUrl: string;
  redisPrefix: string;
  dataDir: string;
  storageDriver: 'fs' | 's3';
  s3: {
    endpoint?: string;
    bucket: string;
    region: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    forcePathStyle: boolean;
  };
  adminEmail: string;
  adminPassword: string;
  jwtSecret: string;
  jwtTtlSeconds: number;
  signingKeySecret: string;
  signingPrivateKey?: string;
  enrollCodeTtlHours: number;
  enrollMaxFailures: number;
  enrollWindowSeconds: number;
  assignSyncLimit: number;
  needDebounceSeconds: number;
  needReconcileAfterSeconds: number;
  corsOrigins: string[];
  trustProxy: boolean;
  logLevel: string;
  loginMaxFailures: number;
  loginWindowSeconds: number;
  uploadMaxFileBytes: number;
  bureauQuotaBytes: number;
  uploadIdleHours: number;
  zipMaxUncompressedBytes: number;
  zipMaxRatio: number;
  zipMaxEntries: number;
  shutdownTimeoutSeconds: number;
  jobLockSeconds: number;
  jobAttempts: number;
  jobBackoffSeconds: number;
  jobStalledSeconds: number;
  jobMaxStalled: number;
  mediaConcurrency: number;
  ffmpegTimeoutSeconds: number;
  bundleMaxMb: number;
  zstdLevel: number;
  patchMaxBaseMb: number;
  jobRetentionHours: number;
  broadcast: BroadcastEnv;
  coverageRefreshSeconds: number;
  syncBytes: 'embedded' | 'x-accel' | 's3-presign';
  syncAccelPrefix: string;
  syncPresignSeconds: number;
  syncManifestTtlHours: number;
  syncPollSeconds: number;
  syncPollJitterPercent: number;
  syncTokenCacheSeconds: number;
  syncManifestDebounceMs: number;
}

/** The satellite carousel: planning (channel, windows, cycles) and the sender (addresses). */
export interface BroadcastEnv {
  rateKbps: number;
  windows: { start: string; end: string }[];
  timezone: string;
  cycles: number;
  minSchools: number;
  /** Loss assumed for a region before any receipt reported one (0-0.5). */
  expectedLoss: number;
  /** Share of an item the average school still fetches by unicast after a broadcast (0-1). */
  repairFraction: number;
  /** Where the sender sends: a multicast group or a list of unicast addresses. */
  addresses: { host: string; port: number }[];
  ttl: number;
  /** Local address of the interface multicast leaves by; empty for the system's choice. */
  multicastInterface?: string;
  /** FLUTE transport session id (LCT TSI). */
  tsi: number;
  /** How long, after its last cycle, a broadcast still stands for what its schools need. */
  repairGraceHours: number;
}

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'EnvError';
  }
}

type Source = Record<string, string | undefined>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly source: Source) {}

  private raw(name: string): string | undefined {
    const value = this.source[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  required(name: string, hint: string): string {
    const value = this.raw(name);
    if (value === undefined) {
      this.problems.push(`${name} is required: ${hint}`);
      return '';
    }
    return value;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optional(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value) || parsed < min || parsed > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max} (got "${value}")`);
      return fallback;
    }
    return parsed;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (/^(true|1|yes)$/i.test(value)) return true;
    if (/^(false|0|no)$/i.test(value)) return false;
    this.problems.push(`${name} must be true or false (got "${value}")`);
    return fallback;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${value}")`);
      return fallback;
    }
    return value as T;
  }

  /** "22:00-06:00;12:00-13:00" (empty: always open). */
  windows(name: string): { start: string; end: string }[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const hhmm = '([01]\\d|2[0-3]):[0-5]\\d';
    const windows = value.split(';').map((w) => w.trim());
    if (!windows.every((w) => new RegExp(`^${hhmm}-${hhmm}$`).test(w))) {
      this.problems.push(`${name} must be windows like 22:00-06:00;12:00-13:00 (got "${value}")`);
      return [];
    }
    return windows.map((w) => ({ start: w.slice(0, 5), end: w.slice(6, 11) }));
  }

  /** "239.1.2.3:4000" or "10.0.0.5:4000,10.0.0.6:4000" (empty: none). */
  addresses(name: string): { host: string; port: number }[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const out: { host: string; port: number }[] = [];
    for (const part of value.split(',').map((a) => a.trim())) {
      const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(part);
      const port = m ? Number(m[2]) : 0;
      if (!m || m[1].split('.').some((o) => Number(o) > 255) || port < 1 || port > 65535) {
        this.problems.push(
          `${name} must be IPv4 host:port pairs separated by commas (got "${part}")`,
        );
        return [];
      }
      out.push({ host: m[1], port });
    }
    return out;
  }

  url(name: string, protocols: string[], hint: string): string {
    const value = this.required(name, hint);
    if (!value) return value;
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
    } catch {
      this.problems.push(`${name} must be a ${protocols.join(' or ')} URL: ${hint}`);
    }
    return value;
  }
}

const MB = 1024 * 1024;

export function loadEnv(source: Source = process.env): Env {
  const r = new Reader(source);
  const storageDriver = r.oneOf('STORAGE_DRIVER', 'fs', ['fs', 's3'] as const);
  const env: Env = {
    nodeEnv: r.string('NODE_ENV', 'development'),
    port: r.int('PORT', 3000, 0, 65535),
    host: r.string('HOST', '0.0.0.0'),
    role: r.oneOf('ROLE', 'all', ['api', 'worker', 'broadcast', 'all'] as const),
    databaseUrl: r.url(
      'DATABASE_URL',
      ['postgres:', 'postgresql:'],
      'e.g. postgres://postgres@127.0.0.1:5432/classcast',
    ),
    migrateOnBoot: r.bool('DB_MIGRATE_ON_BOOT', true),
    redisUrl: r.url('REDIS_URL', ['redis:', 'rediss:'], 'e.g. redis://127.0.0.1:6379'),
    redisPrefix: r.string('REDIS_PREFIX', 'classcast'),
    dataDir: r.required('DATA_DIR', 'a writable directory for the blob store and work files'),
    storageDriver,
    s3: {
      endpoint: r.optional('S3_ENDPOINT'),
      bucket:
        storageDriver === 's3'
          ? r.required('S3_BUCKET', 'the bucket that holds the blobs')
          : r.string('S3_BUCKET', ''),
      region: r.string('S3_REGION', 'us-east-1'),
      accessKeyId: r.optional('S3_ACCESS_KEY_ID'),
      secretAccessKey: r.optional('S3_SECRET_ACCESS_KEY'),
      forcePathStyle: r.bool('S3_FORCE_PATH_STYLE', true),
    },
    adminEmail: r.required('ADMIN_EMAIL', 'the e-mail address of the first administrator'),
    adminPassword: r.required('ADMIN_PASSWORD', 'the first administrator password'),
    jwtSecret: r.required('JWT_SECRET', 'a random secret of at least 32 characters'),
    jwtTtlSeconds: r.int('JWT_TTL_SECONDS', 3600, 60, 7 * 24 * 3600),
    signingKeySecret: r.string('SIGNING_KEY_SECRET', source.JWT_SECRET ?? ''),
    signingPrivateKey: r.optional('SIGNING_PRIVATE_KEY'),
    enrollCodeTtlHours: r.int('ENROLL_CODE_TTL_HOURS', 72, 1, 24 * 30),
    enrollMaxFailures: r.int('ENROLL_MAX_FAILURES', 10, 1, 1000),
    enrollWindowSeconds: r.int('ENROLL_WINDOW_SECONDS', 900, 1, 86400),
    assignSyncLimit: r.int('ASSIGN_SYNC_LIMIT', 1000, 1, 1_000_000),
    needDebounceSeconds: r.int('NEED_DEBOUNCE_SECONDS', 5, 0, 3600),
    needReconcileAfterSeconds: r.int('NEED_RECONCILE_AFTER_SECONDS', 300, 0, 86400),
    corsOrigins: r
      .string('CORS_ORIGINS', '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    trustProxy: r.bool('TRUST_PROXY', false),
    logLevel: r.oneOf('LOG_LEVEL', 'info', [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ] as const),
    loginMaxFailures: r.int('LOGIN_MAX_FAILURES', 10, 1, 1000),
    loginWindowSeconds: r.int('LOGIN_WINDOW_SECONDS', 900, 1, 86400),
    uploadMaxFileBytes: r.int('UPLOAD_MAX_FILE_MB', 8192, 1, 1024 * 1024) * MB,
    bureauQuotaBytes: r.int('BUREAU_QUOTA_MB', 512 * 1024, 1, 1024 * 1024 * 1024) * MB,
    uploadIdleHours: r.int('UPLOAD_IDLE_HOURS', 24, 1, 24 * 365),
    zipMaxUncompressedBytes: r.int('ZIP_MAX_UNCOMPRESSED_MB', 2048, 1, 1024 * 1024) * MB,
    zipMaxRatio: r.int('ZIP_MAX_RATIO', 200, 2, 100000),
    zipMaxEntries: r.int('ZIP_MAX_ENTRIES', 20000, 1, 1000000),
    shutdownTimeoutSeconds: r.int('SHUTDOWN_TIMEOUT_SECONDS', 30, 1, 3600),
    jobLockSeconds: r.int('JOB_LOCK_SECONDS', 30, 1, 3600),
    jobAttempts: r.int('JOB_ATTEMPTS', 3, 1, 100),
    jobBackoffSeconds: r.int('JOB_BACKOFF_SECONDS', 5, 1, 3600),
    jobStalledSeconds: r.int('JOB_STALLED_SECONDS', 30, 1, 3600),
    jobMaxStalled: r.int('JOB_MAX_STALLED', 3, 1, 100),
    mediaConcurrency: r.int('MEDIA_CONCURRENCY', 2, 1, 64),
    ffmpegTimeoutSeconds: r.int('FFMPEG_TIMEOUT_SECONDS', 3600, 1, 86400),
    bundleMaxMb: r.int('BUNDLE_MAX_MB', 2048, 1, 1024 * 1024),
    zstdLevel: r.int('ZSTD_LEVEL', 19, 1, 22),
    patchMaxBaseMb: r.int('PATCH_MAX_BASE_MB', 128, 0, 4096),
    jobRetentionHours: r.int('JOB_RETENTION_HOURS', 168, 24, 24 * 365),
    broadcast: {
      rateKbps: r.int('BROADCAST_RATE_KBPS', 20000, 8, 10_000_000),
      windows: r.windows('BROADCAST_WINDOWS'),
      timezone: r.string('BROADCAST_TIMEZONE', 'UTC'),
      cycles: r.int('BROADCAST_CYCLES', 2, 1, 100),
      minSchools: r.int('BROADCAST_MIN_SCHOOLS', 2, 2, 1_000_000),
      expectedLoss: r.int('BROADCAST_EXPECTED_LOSS_PERCENT', 5, 0, 50) / 100,
      repairFraction: r.int('BROADCAST_REPAIR_PERCENT', 1, 0, 100) / 100,
      addresses: r.addresses('BROADCAST_ADDRESSES'),
      ttl: r.int('BROADCAST_TTL', 16, 0, 255),
      multicastInterface: r.optional('BROADCAST_INTERFACE'),
      tsi: r.int('BROADCAST_TSI', 1, 0, 0xffffffff),
      repairGraceHours: r.int('BROADCAST_REPAIR_GRACE_HOURS', 24, 1, 24 * 60),
    },
    coverageRefreshSeconds: r.int('COVERAGE_REFRESH_SECONDS', 30, 1, 3600),
    syncBytes: r.oneOf('SYNC_BYTES', 'embedded', ['embedded', 'x-accel', 's3-presign'] as const),
    syncAccelPrefix: r.string('SYNC_ACCEL_PREFIX', '/_classcast_blobs/'),
    syncPresignSeconds: r.int('SYNC_PRESIGN_SECONDS', 600, 10, 7 * 24 * 3600),
    syncManifestTtlHours: r.int('SYNC_MANIFEST_TTL_HOURS', 168, 1, 24 * 365),
    syncPollSeconds: r.int('SYNC_POLL_SECONDS', 3600, 5, 7 * 24 * 3600),
    syncPollJitterPercent: r.int('SYNC_POLL_JITTER_PERCENT', 20, 0, 90),
    syncTokenCacheSeconds: r.int('SYNC_TOKEN_CACHE_SECONDS', 5, 0, 300),
    syncManifestDebounceMs: r.int('SYNC_MANIFEST_DEBOUNCE_MS', 2000, 0, 600_000),
  };
  try {
    Intl.DateTimeFormat('en', { timeZone: env.broadcast.timezone });
  } catch {
    r.problems.push(
      `BROADCAST_TIMEZONE must be an IANA time zone (got "${env.broadcast.timezone}")`,
    );
  }
  if (env.jwtSecret && env.jwtSecret.length < 32) {
    r.problems.push('JWT_SECRET must be at least 32 characters long');
  }
  if (env.adminPassword && env.adminPassword.length < 10) {
    r.problems.push('ADMIN_PASSWORD must be at least 10 characters long');
  }
  if (env.adminEmail && !/^[^\s@]+@[^\s@]+$/.test(env.adminEmail)) {
    r.problems.push(`ADMIN_EMAIL must be an e-mail address (got "${env.adminEmail}")`);
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(env.redisPrefix)) {
    r.problems.push('REDIS_PREFIX must be 1-64 letters, digits, dots, dashes or underscores');
  }
  if (env.syncBytes === 'x-accel' && env.storageDriver !== 'fs') {
    r.problems.push('SYNC_BYTES=x-accel needs STORAGE_DRIVER=fs (nginx reads the blob directory)');
  }
  if (env.syncBytes === 's3-presign' && env.storageDriver !== 's3') {
    r.problems.push('SYNC_BYTES=s3-presign needs STORAGE_DRIVER=s3');
  }
  if (!/^\/[A-Za-z0-9_/-]*\/$/.test(env.syncAccelPrefix)) {
    r.problems.push('SYNC_ACCEL_PREFIX must be a location path that starts and ends with "/"');
  }
  if (r.problems.length > 0) throw new EnvError(r.problems);
  return env;
}

/** Injection token for the validated Env. */
export const ENV = Symbol('ENV');
