import {
  createRegion,
  createViewer,
  loginAdmin,
  publishedLesson,
  school,
} from './support/factories';
import { TestApp, startTestApp } from './support/test-app';
import { Client } from 'pg';
import { databaseUrl } from './support/pg';

/** The page at / and the routes behind its charts and queue panel. */
describe('dashboard routes', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves the built page at / with a CSP that allows only its own scripts', async () => {
    const res = await t.http().get('/').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const html = res.text;
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    expect(html).not.toMatch(/https?:\/\//);
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await t.http().get(script!).expect(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toContain('immutable');
    await t.http().get('/assets/nothing-here.js').expect(404);
    // The API keeps its own prefix; the page does not swallow unknown API routes.
    const missing = await t.http().get('/api/v1/nothing-here').expect(404);
    expect(missing.body.code).toBe('route_not_found');
  });

  it('counts installs and bundle savings per day, inside the caller’s scope only', async () => {
    const admin = await loginAdmin(t);
    const province = await createRegion(t, admin, { level: 'province' });
    const county = await createRegion(t, admin, { level: 'county', parentId: province.id });
    const other = await createRegion(t, admin, { level: 'province' });
    const s = await t
      .http()
      .post('/api/v1/schools')
      .set('Authorization', `Bearer ${admin.token}`)
      .send(school(`ACT-${Date.now()}`, county.id))
      .expect(201);
    const bureau = await t
      .http()
      .post('/api/v1/bureaus')
      .set('Authorization', `Bearer ${admin.token}`)
      .send({ name: 'Activity bureau', regionId: province.id })
      .expect(201);
    await t
      .http()
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${admin.token}`)
      .send({
        email: 'act-bureau@classcast.test',
        password: 'bureau-password-1',
        role: 'bureau',
        bureauId: bureau.body.id,
      })
      .expect(201);
    const login = await t
      .http()
      .post('/api/v1/auth/login')
      .send({ email: 'act-bureau@classcast.test', password: 'bureau-password-1' })
      .expect(200);
    const lesson = await publishedLesson(t, { token: login.body.accessToken, id: '', email: '' });

    // A terminal's receipt would write this holding; the route must count it on today's row.
    const db = new Client({ connectionString: databaseUrl(t.dbName) });
    await db.connect();
    try {
      await db.query(
        `INSERT INTO holding (school_id, lesson_id, version, bytes, confirmed_at) VALUES ($1, $2, 1, 4096, now())`,
        [s.body.id, lesson.id],
      );
    } finally {
      await db.end();
    }

    const today = new Date().toISOString().slice(0, 10);
    const res = await t
      .http()
      .get(`/api/v1/dashboard/activity?regionId=${province.id}&days=7`)
      .set('Authorization', `Bearer ${admin.token}`)
      .expect(200);
    expect(res.body.items).toHaveLength(7);
    expect(res.body.total).toBe(7);
    expect(res.body.items[6].day).toBe(today);
    expect(res.body.items[6].installs).toBe(1);
    expect(res.body.items.slice(0, 6).every((d: any) => d.installs === 0)).toBe(true);
    expect(typeof res.body.asOf).toBe('string');

    const elsewhere = await t
      .http()
      .get(`/api/v1/dashboard/activity?regionId=${other.id}&days=7`)
      .set('Authorization', `Bearer ${admin.token}`)
      .expect(200);
    expect(elsewhere.body.items[6].installs).toBe(0);

    // A viewer of the other province sees neither the first province nor its installs.
    const viewer = await createViewer(t, admin, other.id);
    const hidden = await t
      .http()
      .get(`/api/v1/dashboard/activity?regionId=${province.id}`)
      .set('Authorization', `Bearer ${viewer.token}`)
      .expect(404);
    expect(hidden.body.code).toBe('not_found');
    const own = await t
      .http()
      .get('/api/v1/dashboard/activity?days=1')
      .set('Authorization', `Bearer ${viewer.token}`)
      .expect(200);
    expect(own.body.items[0].installs).toBe(0);
  });

  it('refuses bad input with a code', async () => {
    const admin = await loginAdmin(t);
    const auth = `Bearer ${admin.token}`;
    for (const q of ['days=0', 'days=91', 'days=abc', 'regionId=not-a-uuid']) {
      const res = await t
        .http()
        .get(`/api/v1/dashboard/activity?${q}`)
        .set('Authorization', auth)
        .expect(422);
      expect(res.body.code).toBe('validation_failed');
    }
    const unknown = await t
      .http()
      .get('/api/v1/dashboard/activity?regionId=00000000-0000-4000-8000-000000000000')
      .set('Authorization', auth)
      .expect(404);
    expect(unknown.body.code).toBe('not_found');
    const anonymous = await t.http().get('/api/v1/dashboard/activity').expect(401);
    expect(anonymous.body.code).toBe('unauthorized');
  });

  it('shows queue counts to admins only', async () => {
    const admin = await loginAdmin(t);
    const res = await t
      .http()
      .get('/api/v1/dashboard/queues')
      .set('Authorization', `Bearer ${admin.token}`)
      .expect(200);
    expect(res.body.items.length).toBeGreaterThan(0);
    for (const q of res.body.items) {
      expect(typeof q.name).toBe('string');
      expect(Number.isInteger(q.waiting)).toBe(true);
      expect(Number.isInteger(q.failed)).toBe(true);
    }
    const province = await createRegion(t, admin, { level: 'province' });
    const viewer = await createViewer(t, admin, province.id);
    const refused = await t
      .http()
      .get('/api/v1/dashboard/queues')
      .set('Authorization', `Bearer ${viewer.token}`)
      .expect(403);
    expect(refused.body.code).toBe('forbidden');
  });
});
