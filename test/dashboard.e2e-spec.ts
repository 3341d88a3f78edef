import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { launchChromium } from './support/browser';
import { Actor, createRegion, loginAdmin, mp4Bytes, school } from './support/factories';
import { TestApp, startTestApp } from './support/test-app';

/**
 * The dashboard in Debian's chromium: log in (keyboard only), drill down from the top of the
 * bureau's region to a school, create a lesson, upload a file over tus with progress (pausing and
 * resuming), publish, assign it to a county, and see the assignment at the school. Names with
 * markup render as text; the strict CSP is never violated; screenshots are not blank.
 */
describe('dashboard in a browser', () => {
  let t: TestApp;
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let page: Page;
  let shots: string;
  let work: string;
  const problems: string[] = [];
  const MARKUP_SCHOOL = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">小学`;
  const MARKUP_REGION = `<b>河西</b>县`;
  const bureauLogin = { email: 'bureau-ui@classcast.test', password: 'bureau-password-1' };
  let admin: Actor;
  let province: { id: string; code: string };
  let county: { id: string; code: string };
  let schoolId: string;

  beforeAll(async () => {
    // Coverage rollups refresh every 2 s here, so the county's gaps show without a long wait.
    t = await startTestApp({ COVERAGE_REFRESH_SECONDS: '2' });
    admin = await loginAdmin(t);
    province = await createRegion(t, admin, { level: 'province', name: '甘肃省' });
    county = await createRegion(t, admin, {
      level: 'county',
      parentId: province.id,
      name: MARKUP_REGION,
    });
    const bureau = await t
      .http()
      .post('/api/v1/bureaus')
      .set('Authorization', `Bearer ${admin.token}`)
      .send({ name: '甘肃省教育厅', regionId: province.id })
      .expect(201);
    await t
      .http()
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${admin.token}`)
      .send({ ...bureauLogin, role: 'bureau', bureauId: bureau.body.id })
      .expect(201);
    const created = await t
      .http()
      .post('/api/v1/schools')
      .set('Authorization', `Bearer ${admin.token}`)
      .send(school('UI-0001', county.id, { name: MARKUP_SCHOOL }))
      .expect(201);
    schoolId = created.body.id;
    await t
      .http()
      .post('/api/v1/schools')
      .set('Authorization', `Bearer ${admin.token}`)
      .send(school('UI-0002', county.id, { name: '=HYPERLINK("x") 村小' }))
      .expect(201);

    // DASHBOARD_SHOTS=<dir> keeps the screenshots for a person to look at.
    shots = process.env.DASHBOARD_SHOTS ?? (await mkdtemp(join(tmpdir(), 'classcast-shots-')));
    work = await mkdtemp(join(tmpdir(), 'classcast-ui-'));
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => {
      // The paused upload's request is aborted on purpose; nothing else may fail.
      if (!r.url().includes('/api/v1/uploads/')) problems.push(`request failed: ${r.url()}`);
    });
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.origin !== t.url) problems.push(`off-site request: ${r.url()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await rm(work, { recursive: true, force: true });
    if (!process.env.DASHBOARD_SHOTS) await rm(shots, { recursive: true, force: true });
  });

  async function shot(name: string): Promise<void> {
    const file = join(shots, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    const stats = await sharp(await readFile(file)).stats();
    const spread = Math.max(...stats.channels.slice(0, 3).map((c) => c.stdev));
    // A blank (one-colour) page has no spread at all; a rendered page has text, tables, colours.
    expect(spread).toBeGreaterThan(15);
    expect(stats.channels[0].max - stats.channels[0].min).toBeGreaterThan(100);
  }

  it('logs in with the keyboard, in Chinese by default', async () => {
    await page.goto(`${t.url}/`);
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    await page.getByRole('heading', { name: '登录' }).waitFor();
    // The page moves focus to its heading; the skip link takes keyboard users to the content.
    expect(await page.evaluate('document.activeElement?.tagName')).toBe('H1');
    await page.getByRole('link', { name: '跳到正文' }).focus();
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    await page.getByLabel('电子邮箱').focus();
    await page.keyboard.type(bureauLogin.email);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.id')).toBe('login-password');
    await page.keyboard.type('wrong-password-1');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').waitFor();
    await shot('login-refused');
    await page.getByLabel('密码').fill(bureauLogin.password);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: '覆盖情况' }).waitFor();
    await page.getByRole('heading', { level: 1, name: '全国' }).waitFor();
  });

  it('switches to English', async () => {
    await page.getByLabel('语言').selectOption('en');
    await page.getByRole('link', { name: 'Coverage' }).waitFor();
    expect(await page.getAttribute('html', 'lang')).toBe('en');
  });

  it('drills down region -> county -> school, rendering markup in names as text', async () => {
    await page.getByRole('link', { name: '甘肃省', exact: true }).first().click();
    await page.getByRole('heading', { level: 1, name: '甘肃省' }).waitFor();
    await new Promise((r) => setTimeout(r, 3000));
    await page.getByRole('link', { name: MARKUP_REGION, exact: true }).first().click();
    await page.getByRole('heading', { level: 1, name: MARKUP_REGION }).waitFor();
    await page.getByRole('heading', { name: 'Activity, last 30 days' }).waitFor();
    // Coverage of the county: its figures and the subject-by-grade gap table (english 3-4 gaps).
    await page
      .getByRole('region', { name: 'Coverage' })
      .getByText('Pupils', { exact: true })
      .waitFor();
    await page.getByRole('table').filter({ hasText: 'Each cell: covered / gaps' }).waitFor();
    await page.locator('canvas').first().waitFor();
    await shot('county');
    // No terminal yet: the school is listed as stale by coverage, its name as plain text.
    await page
      .getByRole('region', { name: 'Schools whose terminals went quiet' })
      .getByRole('link', { name: MARKUP_SCHOOL, exact: true })
      .waitFor();
    await page
      .getByRole('region', { name: 'Schools in this region' })
      .getByRole('link', { name: MARKUP_SCHOOL, exact: true })
      .click();
    await page.getByRole('heading', { level: 1, name: MARKUP_SCHOOL }).waitFor();
    await page.getByRole('heading', { name: 'Delivery plan' }).waitFor();
    await page.getByRole('heading', { name: 'Terminals' }).waitFor();
    expect(await page.locator('h1').textContent()).toBe(MARKUP_SCHOOL);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.locator('main script').count()).toBe(0);
    expect(new URL(page.url()).hash).toBe(`#/school/${schoolId}`);
    await shot('school');
  });

  it('creates a lesson, uploads a file over tus with progress, pause and resume, publishes and assigns it', async () => {
    await page.getByRole('link', { name: 'Lessons' }).click();
    await page.getByRole('heading', { name: 'New lesson' }).waitFor();
    const title = `英语 Unit 3 <i>Animals</i>`;
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Subject').selectOption('english');
    await page.getByLabel('Grades').fill('3');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { level: 1, name: title }).waitFor();

    const file = join(work, 'unit3.mp4');
    const size = 40 * 1024 * 1024;
    await writeFile(file, mp4Bytes(size, 7));
    await page.getByLabel('File', { exact: true }).setInputFiles(file);
    // A slow uplink, like a county bureau's, so there is time to pause mid-upload.
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 20,
      downloadThroughput: -1,
      uploadThroughput: 4 * 1024 * 1024,
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const progress = page.locator('#up-progress');
    await progress.waitFor();
    // Pause once some chunks went, then resume: the rest goes from the offset the server has.
    const deadline = Date.now() + 60_000;
    while (Number(await progress.getAttribute('value')) < 20) {
      if (Date.now() > deadline) throw new Error('the upload made no progress');
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    const pausedAt = Number(await progress.getAttribute('value'));
    expect(pausedAt).toBeGreaterThanOrEqual(20);
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText('Upload complete: unit3.mp4').waitFor({ timeout: 120_000 });
    expect(Number(await progress.getAttribute('value'))).toBe(100);
    await shot('uploaded');
    await page.getByRole('rowheader', { name: 'unit3.mp4' }).waitFor({ timeout: 60_000 });

    await page.getByRole('button', { name: 'Publish the draft' }).click();
    await page.getByText('Published as version 1.').waitFor();
    await page.getByRole('heading', { name: 'Assign', exact: true }).waitFor();
    await page.getByLabel('Region 1').selectOption(province.id);
    await page.getByLabel('Region 2').selectOption(county.id);
    await page.getByLabel('Due date').fill('2030-09-01');
    await page.getByRole('button', { name: 'Assign', exact: true }).click();
    await page.getByText('Assigned: 2 new, 0 already assigned.').waitFor();
    await shot('assigned');

    await page.goto(`${t.url}/#/school/${schoolId}`);
    await page.getByRole('heading', { level: 1, name: MARKUP_SCHOOL }).waitFor();
    await page.getByRole('rowheader', { name: title }).first().waitFor();
    await shot('school-assigned');
  });

  it('shows queue counts to administrators', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('E-mail').fill(admin.email);
    await page.getByLabel('Password').fill('admin-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Queues' }).click();
    await page.getByRole('columnheader', { name: 'Waiting' }).waitFor();
    expect(await page.getByRole('rowheader').count()).toBeGreaterThan(0);
    await shot('queues');
  });

  it('never broke its content security policy, failed a request or left the origin', () => {
    expect(problems).toEqual([]);
  });
});
