import Redis from 'ioredis';
import { JobsService } from '../src/jobs/jobs.service';
import { REDIS_TEST_URL } from './support/pg';
import {
  Actor,
  createBureauUser,
  createRegion,
  createViewer,
  login,
  loginAdmin,
} from './support/factories';
import { ADMIN, TestApp, startTestApp } from './support/test-app';

describe('foundation: operations, errors, auth, regions, jobs', () => {
  let t: TestApp;
  let admin: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await loginAdmin(t);
  });
  afterAll(() => t.close());

  describe('operations at the server root', () => {
    it('answers liveness and readiness with database, redis and storage checked', async () => {
      await t.http().get('/health').expect(200, { status: 'ok' });
      const ready = await t.http().get('/health/ready').expect(200);
      expect(ready.body.info).toEqual({
        database: { status: 'up' },
        redis: { status: 'up' },
        storage: { status: 'up' },
      });
    });

    it('serves Prometheus metrics with the HTTP histogram and queue depths', async () => {
      await t
        .http()
        .get('/api/v1/lessons')
        .set('Authorization', `Bearer ${admin.token}`)
        .expect(200);
      const res = await t.http().get('/metrics').expect(200);
      expect(res.headers['content-type']).toMatch(/text\/plain/);
      expect(res.text).toContain('classcast_http_request_duration_seconds_bucket');
      expect(res.text).toMatch(/route="\/api\/v1\/lessons"/);
      expect(res.text).toMatch(/classcast_queue_jobs\{queue="maintenance",state="waiting"\}/);
    });

    it('publishes OpenAPI at /docs and /docs-json describing the catalog routes', async () => {
      const json = await t.http().get('/docs-json').expect(200);
      const paths = Object.keys(json.body.paths as object);
      for (const p of [
        '/api/v1/auth/login',
        '/api/v1/lessons',
        '/api/v1/lessons/{id}/files',
        '/api/v1/lessons/{id}/publish',
        '/api/v1/uploads',
        '/api/v1/jobs/{jobId}',
        '/api/v1/regions',
        '/api/v1/bureaus',
        '/api/v1/courses',
        '/health/ready',
      ]) {
        expect(paths).toContain(p);
      }
      const html = await t.http().get('/docs').expect(200);
      expect(html.text).toContain('swagger');
    });

    it('sends security headers and a request id in logs-friendly form', async () => {
      const res = await t.http().get('/health').expect(200);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBeDefined();
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });

  describe('the error model', () => {
    it('answers unknown routes with 404 in the error shape', async () => {
      const res = await t.http().get('/api/v1/nothing-here').expect(404);
      expect(res.body).toEqual({
        statusCode: 404,
        error: 'Not Found',
        code: 'route_not_found',
        message: expect.any(String),
        details: [],
      });
    });

    it('answers malformed JSON with 400 malformed_json', async () => {
      const res = await t
        .http()
        .post('/api/v1/auth/login')
        .set('Content-Type', 'application/json')
        .send('{"email": "a@b.c", ')
        .expect(400);
      expect(res.body.code).toBe('malformed_json');
    });

    it('answers unknown fields and wrong types with 422 and field details', async () => {
      const res = await t
        .http()
        .post('/api/v1/regions')
        .set('Authorization', `Bearer ${admin.token}`)
        .send({ code: 42, name: 'x', level: 'galaxy', colour: 'red' })
        .expect(422);
      expect(res.body.code).toBe('validation_failed');
      const fields = (res.body.details as { field: string }[]).map((d) => d.field);
      expect(fields).toEqual(expect.arrayContaining(['code', 'level', 'colour']));
    });
  });

  describe('auth', () => {
    it('logs in, answers /auth/me, and refuses bad credentials with 401', async () => {
      const me = await t
        .http()
        .get('/api/v1/auth/me')
        .set('Authorization', `Bearer ${admin.token}`)
        .expect(200);
      expect(me.body).toMatchObject({ email: ADMIN.email, role: 'admin' });
      const bad = await t
        .http()
        .post('/api/v1/auth/login')
        .send({ email: ADMIN.email, password: 'wrong-password' })
        .expect(401);
      expect(bad.body.code).toBe('invalid_credentials');
    });

    it('answers 401 without a token or with a forged one', async () => {
      const none = await t.http().get('/api/v1/lessons').expect(401);
      expect(none.body.code).toBe('unauthorized');
      await t.http().get('/api/v1/lessons').set('Authorization', 'Bearer not.a.token').expect(401);
    });

    it('rate limits failed logins per address and e-mail with 429 and Retry-After', async () => {
      const email = 'nobody-here@classcast.test';
      for (let i = 0; i < 10; i++) {
        await t
          .http()
          .post('/api/v1/auth/login')
          .send({ email, password: 'guess-guess' })
          .expect(401);
      }
      const limited = await t
        .http()
        .post('/api/v1/auth/login')
        .send({ email, password: 'guess-guess' })
        .expect(429);
      expect(limited.body.code).toBe('rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // Another e-mail from the same address is not affected.
      await t
        .http()
        .post('/api/v1/auth/login')
        .send({ email: ADMIN.email, password: ADMIN.password })
        .expect(200);
    });

    it('revokes every token of a disabled user at once', async () => {
      const user = await createBureauUser(t, admin);
      await t
        .http()
        .get('/api/v1/auth/me')
        .set('Authorization', `Bearer ${user.token}`)
        .expect(200);
      await t
        .http()
        .patch(`/api/v1/users/${user.id}`)
        .set('Authorization', `Bearer ${admin.token}`)
        .send({ disabled: true })
        .expect(200);
      await t
        .http()
        .get('/api/v1/auth/me')
        .set('Authorization', `Bearer ${user.token}`)
        .expect(401);
      await t
        .http()
        .post('/api/v1/auth/login')
        .send({ email: user.email, password: 'bureau-password-1' })
        .expect(401);
    });

    it('changes a password: the old token and password stop working', async () => {
      const user = await createBureauUser(t, admin);
      const changed = await t
        .http()
        .post('/api/v1/auth/password')
        .set('Authorization', `Bearer ${user.token}`)
        .send({ currentPassword: 'bureau-password-1', newPassword: 'a-brand-new-password' })
        .expect(200);
      await t
        .http()
        .get('/api/v1/auth/me')
        .set('Authorization', `Bearer ${user.token}`)
        .expect(401);
      await t
        .http()
        .get('/api/v1/auth/me')
        .set('Authorization', `Bearer ${changed.body.accessToken as string}`)
        .expect(200);
      await login(t, user.email, 'a-brand-new-password');
      const wrong = await t
        .http()
        .post('/api/v1/auth/password')
        .set('Authorization', `Bearer ${changed.body.accessToken as string}`)
        .send({ currentPassword: 'not-it-at-all', newPassword: 'another-new-password' })
        .expect(401);
      expect(wrong.body.code).toBe('invalid_credentials');
    });

    it('lets only admins manage users (viewer -> 403)', async () => {
      const region = await createRegion(t, admin);
      const viewer = await createViewer(t, admin, region.id);
      await t
        .http()
        .get('/api/v1/users')
        .set('Authorization', `Bearer ${viewer.token}`)
        .expect(403);
      const list = await t
        .http()
        .get('/api/v1/users')
        .set('Authorization', `Bearer ${admin.token}`)
        .expect(200);
      expect(list.body).toMatchObject({ page: 1, pageSize: 50 });
      expect(list.body.total).toBeGreaterThanOrEqual(2);
      expect(JSON.stringify(list.body)).not.toContain('password');
    });

    it('sets an HttpOnly SameSite=Strict session cookie that API routes do not accept', async () => {
      const res = await t
        .http()
        .post('/api/v1/auth/session')
        .set('Authorization', `Bearer ${admin.token}`)
        .expect(204);
      const cookie = (res.headers['set-cookie'] as unknown as string[])[0];
      expect(cookie).toMatch(/^classcast_session=/);
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      await t.http().get('/api/v1/auth/me').set('Cookie', cookie.split(';')[0]).expect(401);
    });
  });

  describe('queue dashboard', () => {
    it('opens /admin/queues only with an admin session cookie', async () => {
      const none = await t.http().get('/admin/queues').expect(401);
      expect(none.body.code).toBe('unauthorized');
      await t.http().get('/admin/queues').set('Authorization', `Bearer ${admin.token}`).expect(401);
      const region = await createRegion(t, admin);
      const viewer = await createViewer(t, admin, region.id);
      const viewerSession = await t
        .http()
        .post('/api/v1/auth/session')
        .set('Authorization', `Bearer ${viewer.token}`)
        .expect(204);
      const viewerCookie = (viewerSession.headers['set-cookie'] as unknown as string[])[0].split(
        ';',
      )[0];
      await t.http().get('/admin/queues').set('Cookie', viewerCookie).expect(403);
      const session = await t
        .http()
        .post('/api/v1/auth/session')
        .set('Authorization', `Bearer ${admin.token}`)
        .expect(204);
      const cookie = (session.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
      const page = await t.http().get('/admin/queues').set('Cookie', cookie).expect(200);
      expect(page.text).toContain('Classcast queues');
      const api = await t.http().get('/admin/queues/api/queues').set('Cookie', cookie).expect(200);
      expect(JSON.stringify(api.body)).toContain('maintenance');
    });
  });

  describe('regions and bureaus', () => {
    it('builds a tree with levels below their parents and unique codes', async () => {
      const province = await createRegion(t, admin, { level: 'province' });
      const county = await createRegion(t, admin, { level: 'county', parentId: province.id });
      const wrongLevel = await t
        .http()
        .post('/api/v1/regions')
        .set('Authorization', `Bearer ${admin.token}`)
        .send({ code: `X-${Date.now()}`, name: 'x', level: 'province', parentId: county.id })
        .expect(422);
      expect(wrongLevel.body.details[0].field).toBe('level');
      const dup = await t
        .http()
        .post('/api/v1/regions')
        .set('Authorization', `Bearer ${admin.token}`)
        .send({ code: province.code, name: 'again', level: 'province' })
        .expect(409);
      expect(dup.body.code).toBe('conflict');
      const children = await t
        .http()
        .get(`/api/v1/regions?parentId=${province.id}`)
        .set('Authorization', `Bearer ${admin.token}`)
        .expect(200);
      expect(children.body.items.map((r: { id: string }) => r.id)).toEqual([county.id]);
    });

    it('confines a viewer to its own subtree: other regions answer 404', async () => {
      const mine = await createRegion(t, admin);
      const child = await createRegion(t, admin, { level: 'county', parentId: mine.id });
      const other = await createRegion(t, admin);
      const viewer = await createViewer(t, admin, mine.id);
      const auth = { Authorization: `Bearer ${viewer.token}` };
      await t.http().get(`/api/v1/regions/${child.id}`).set(auth).expect(200);
      await t.http().get(`/api/v1/regions/${other.id}`).set(auth).expect(404);
      const roots = await t.http().get('/api/v1/regions').set(auth).expect(200);
      expect(roots.body.items.map((r: { id: string }) => r.id)).toEqual([mine.id]);
      await t
        .http()
        .post('/api/v1/regions')
        .set(auth)
        .send({ code: 'V-1', name: 'v', level: 'province' })
        .expect(403);
    });
  });

  describe('redis', () => {
    it('keeps every key it writes under REDIS_PREFIX', async () => {
      const redis = new Redis(REDIS_TEST_URL);
      try {
        const before = new Set(await redis.keys('*'));
        // Failed logins (rate limiter) and jobs (BullMQ) both write keys.
        await t
          .http()
          .post('/api/v1/auth/login')
          .send({ email: 'x@y.z', password: 'nope-nope' })
          .expect(401);
        await t.app.get(JobsService).enqueue('maintenance.expire-uploads', { idleHours: 24 });
        const keys = await redis.keys('*');
        const ours = keys.filter((k) => k.startsWith(`${t.env.redisPrefix}:`));
        expect(ours.some((k) => k.includes(':maintenance:'))).toBe(true);
        expect(ours.some((k) => k.includes(':ratelimit:login:'))).toBe(true);
        // Other processes share this Redis under their own prefixes; a leak from this app would
        // show as a key under a default prefix (BullMQ's "bull", "classcast") or none at all.
        const leakPrefixes = [
          'bull',
          'classcast',
          'ratelimit',
          'maintenance',
          'schools',
          'assignments',
        ];
        const strays = keys.filter(
          (k) => !before.has(k) && (!k.includes(':') || leakPrefixes.includes(k.split(':')[0])),
        );
        expect(strays).toEqual([]);
      } finally {
        redis.disconnect();
      }
    });
  });

  describe('jobs', () => {
    it('keeps job records in PostgreSQL and shows them to their starter and admins only', async () => {
      const user = await createBureauUser(t, admin);
      const jobs = t.app.get(JobsService);
      const jobId = await jobs.enqueue(
        'maintenance.expire-uploads',
        { idleHours: 24 },
        { userId: user.id },
      );
      let body: { state: string; progress: number; result?: unknown } = {
        state: 'waiting',
        progress: 0,
      };
      for (let i = 0; i < 100 && body.state !== 'completed'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        body = (
          await t
            .http()
            .get(`/api/v1/jobs/${jobId}`)
            .set('Authorization', `Bearer ${user.token}`)
            .expect(200)
        ).body;
      }
      expect(body).toMatchObject({
        state: 'completed',
        progress: 100,
        result: { uploadsRemoved: 0 },
      });
      await t
        .http()
        .get(`/api/v1/jobs/${jobId}`)
        .set('Authorization', `Bearer ${admin.token}`)
        .expect(200);
      const other = await createBureauUser(t, admin);
      await t
        .http()
        .get(`/api/v1/jobs/${jobId}`)
        .set('Authorization', `Bearer ${other.token}`)
        .expect(404);
    });
  });
});
