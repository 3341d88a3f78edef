import { spawn } from 'node:child_process';
import { verify } from 'node:crypto';
import { join } from 'node:path';
import { publicKeyFromRaw } from '../src/modules/signing/ed25519';
import {
  ServerProcess,
  freePort,
  processEnvironment,
  startServerProcess,
} from './support/server-process';

const MAIN = join(__dirname, '..', 'dist', 'src', 'main.js');

/** The built server run the way deployments run it: one role per process, configured by env. */
describe('roles and configuration', () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  const processes: ServerProcess[] = [];

  beforeAll(async () => {
    ({ env, cleanup } = await processEnvironment('roles'));
  });

  afterAll(async () => {
    for (const p of processes) await p.kill('SIGKILL');
    await cleanup();
  });

  it('stops with a message naming each missing or invalid variable', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', PORT: 'eighty', DATABASE_URL: 'mysql://x' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(78);
    for (const name of [
      'DATABASE_URL',
      'REDIS_URL',
      'DATA_DIR',
      'ADMIN_EMAIL',
      'ADMIN_PASSWORD',
      'JWT_SECRET',
      'PORT',
    ]) {
      expect(out).toContain(name);
    }
    expect(out).toContain('.env.example');
  });

  it('runs an api process and a worker process apart: the api enqueues, the worker does the job', async () => {
    const api = await startServerProcess({ ...env, ROLE: 'api' }, await freePort());
    processes.push(api);
    const worker = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...env, ROLE: 'worker', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let workerLog = '';
    worker.stdout.on('data', (d: Buffer) => (workerLog += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (workerLog += d.toString()));
    const login = await fetch(`${api.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD }),
    });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const auth = { Authorization: `Bearer ${accessToken}` };
    const region = (await (
      await fetch(`${api.url}/api/v1/regions`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ code: 'R1', name: 'R1', level: 'province' }),
      })
    ).json()) as { id: string };
    expect(region.id).toBeDefined();
    const csv =
      'code,name,regionCode,pupils,grades,downlinkKbps,timezone,storageCapacityMb\nW-1,工作者,R1,1,1,100,Asia/Shanghai,100\n';
    const started = (await (
      await fetch(`${api.url}/api/v1/schools/import`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'text/csv' },
        body: csv,
      })
    ).json()) as { jobId: string };
    let job: { state: string; result?: { inserted: number } } = { state: 'waiting' };
    for (let i = 0; i < 150 && job.state !== 'completed' && job.state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      job = (await (
        await fetch(`${api.url}/api/v1/jobs/${started.jobId}`, { headers: auth })
      ).json()) as typeof job;
    }
    expect(job).toMatchObject({ state: 'completed', result: { inserted: 1 } });
    // Structured JSON logs from the worker too.
    const lines = workerLog.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === 'schools imported')).toBe(
      true,
    );
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      worker.once('exit', (code, signal) => resolve({ code, signal }));
      worker.kill('SIGTERM');
    });
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);

    // Rotating the signing key from the command line: the new key is current and signed by the old.
    const before = (await (await fetch(`${api.url}/api/v1/keys`, { headers: auth })).json()) as {
      keys: { keyId: string; publicKey: string }[];
    };
    const cli = spawn(
      process.execPath,
      [join(__dirname, '..', 'dist', 'src', 'cli.js'), 'rotate-signing-key'],
      {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let cliOut = '';
    cli.stdout.on('data', (d: Buffer) => (cliOut += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (cliOut += d.toString()));
    expect(await new Promise((resolve) => cli.on('exit', resolve))).toBe(0);
    expect(cliOut).toMatch(/is now current \(signed by [0-9a-f]{16}\)/);
    const after = (await (await fetch(`${api.url}/api/v1/keys`, { headers: auth })).json()) as {
      keys: { keyId: string; publicKey: string; signedBy?: string; signature?: string }[];
    };
    expect(after.keys).toHaveLength(before.keys.length + 1);
    const [current] = after.keys;
    expect(current.signedBy).toBe(before.keys[0].keyId);
    const oldKey = publicKeyFromRaw(Buffer.from(before.keys[0].publicKey, 'base64'));
    expect(
      verify(
        null,
        Buffer.from(current.publicKey, 'base64'),
        oldKey,
        Buffer.from(current.signature as string, 'base64'),
      ),
    ).toBe(true);
  });
  it('logs each request as one JSON line naming the service and role, with no credentials', async () => {
    const api = await startServerProcess(
      { ...env, ROLE: 'api', LOG_LEVEL: 'info' },
      await freePort(),
    );
    processes.push(api);
    const login = await fetch(`${api.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'roles-log-check' },
      body: JSON.stringify({ email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD }),
    });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const cookie = 'classcast_session=a-browser-cookie-value';
    const regions = await fetch(`${api.url}/api/v1/regions`, {
      headers: { Authorization: `Bearer ${accessToken}`, Cookie: cookie },
    });
    expect(regions.status).toBe(200);
    const lineFor = (url: string) =>
      api
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>)
        .find((l) => l.msg === 'request completed' && l.req?.url === url);
    for (let i = 0; i < 50 && !lineFor('/api/v1/regions'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const logged = lineFor('/api/v1/regions');
    expect(logged).toMatchObject({
      service: 'classcast',
      role: 'api',
      pid: api.child.pid,
      res: { statusCode: 200 },
      req: { method: 'GET', headers: { authorization: '[redacted]', cookie: '[redacted]' } },
    });
    expect(lineFor('/api/v1/auth/login')).toMatchObject({ req: { id: 'roles-log-check' } });
    const out = api.output();
    for (const secret of [env.ADMIN_PASSWORD, accessToken, 'a-browser-cookie-value']) {
      expect(out).not.toContain(secret);
    }
    await api.kill();
  });
});
