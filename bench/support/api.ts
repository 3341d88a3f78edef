import { randomBytes } from 'node:crypto';

/** A tiny JSON client for the setup calls of a benchmark (not for the measured requests). */
export class Api {
  constructor(readonly baseUrl: string) {}

  async call<T>(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; expect?: number } = {},
  ): Promise<T> {
    const res = await fetch(`${this.baseUrl}/api/v1${path}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    const expected = options.expect ?? (method === 'POST' ? 201 : 200);
    if (res.status !== expected) {
      throw new Error(
        `${method} ${path} answered ${res.status} (expected ${expected}): ${text.slice(0, 500)}`,
      );
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async login(email: string, password: string): Promise<string> {
    const body = await this.call<{ accessToken: string }>('POST', '/auth/login', {
      body: { email, password },
      expect: 200,
    });
    return body.accessToken;
  }

  /** A province, its bureau and a logged-in bureau user, created through the API as an admin. */
  async createBureauUser(
    adminToken: string,
  ): Promise<{ token: string; bureauId: string; regionId: string }> {
    const suffix = randomBytes(4).toString('hex');
    const region = await this.call<{ id: string }>('POST', '/regions', {
      token: adminToken,
      body: { code: `BENCH-${suffix}`, name: `基准测试省 ${suffix}`, level: 'province' },
    });
    const bureau = await this.call<{ id: string }>('POST', '/bureaus', {
      token: adminToken,
      body: { name: `基准测试教育局 ${suffix}`, regionId: region.id },
    });
    const email = `bench-bureau-${suffix}@classcast.test`;
    const password = randomBytes(12).toString('hex');
    await this.call('POST', '/users', {
      token: adminToken,
      body: { email, password, role: 'bureau', bureauId: bureau.id },
    });
    return { token: await this.login(email, password), bureauId: bureau.id, regionId: region.id };
  }
}
