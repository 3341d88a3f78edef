import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { AgentError } from './errors';
import { chainProblem, peerChain, trustAnchors } from './tls-trust';

export interface HttpClientOptions {
  server: string;
  token?: string;
  /** Plain HTTP to a host that is not loopback (explicit opt-in). */
  insecureHttp?: boolean;
  /** PEM text of an extra trusted CA (a self-signed server certificate). */
  caPem?: string;
  /** Trusted "now" for certificate validity. */
  now: () => number;
  /** A request whose socket is silent this long is aborted (stalls on a satellite link). */
  idleTimeoutMs?: number;
  userAgent?: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i;

/**
 * node:http(s) with the agent's rules: HTTPS, certificates judged against the trusted time by the
 * agent itself (tls-trust.ts) before any request byte is written, plain HTTP only for loopback or
 * with --insecure-http, keep-alive sockets and TLS session resumption (a full handshake costs two
 * round trips: over a second on a satellite link).
 */
export class HttpClient {
  readonly base: URL;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly httpsAgent: https.Agent;

  constructor(private readonly options: HttpClientOptions) {
    this.base = new URL(options.server);
    this.httpsAgent = verifyingAgent(options);
  }

  /** `pathOrUrl`: an absolute URL or an absolute path from the server root. */
  resolve(pathOrUrl: string): URL {
    return new URL(pathOrUrl, this.base);
  }

  request(pathOrUrl: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const url = this.resolve(pathOrUrl);
    this.checkTransport(url);
    const headers: Record<string, string> = {
      'user-agent': this.options.userAgent ?? 'classcast-agent',
      ...(opts.headers ?? {}),
    };
    // The token goes only to the enrolled server, never to a redirect target elsewhere.
    if (this.options.token && url.origin === this.base.origin) {
      headers.authorization = `Bearer ${this.options.token}`;
    }
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = mod.request(url, {
        method: opts.method ?? 'GET',
        headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        signal: opts.signal,
      });
      req.setTimeout(opts.idleTimeoutMs ?? this.options.idleTimeoutMs ?? 30_000, () => {
        req.destroy(new AgentError('server_unavailable', `no answer from ${url.host} (timed out)`));
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  /** A JSON request; 4xx/5xx become AgentErrors carrying the server's message and Retry-After. */
  async json<T>(
    pathOrUrl: string,
    opts: RequestOptions & { json?: unknown; okStatuses?: number[] } = {},
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: T | undefined }> {
    const body = opts.json === undefined ? opts.body : JSON.stringify(opts.json);
    const headers = {
      accept: 'application/json',
      ...(opts.json === undefined ? {} : { 'content-type': 'application/json' }),
      ...(opts.headers ?? {}),
    };
    const res = await this.request(pathOrUrl, { ...opts, headers, body });
    const text = await readText(res, 4 * 1024 * 1024);
    const status = res.statusCode ?? 0;
    const ok = opts.okStatuses ?? [200, 201, 202, 204];
    if (!ok.includes(status)) throw httpError(status, res.headers, text, pathOrUrl);
    let parsed: T | undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text) as T;
      } catch {
        throw new AgentError('server_refused', `${pathOrUrl} answered ${status} with non-JSON`);
      }
    }
    return { status, headers: res.headers, body: parsed };
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private checkTransport(url: URL): void {
    if (url.protocol === 'https:') return;
    if (url.protocol !== 'http:') {
      throw new AgentError('insecure_refused', `unsupported URL scheme ${url.protocol}`);
    }
    if (LOOPBACK.test(url.hostname) || this.options.insecureHttp) return;
    throw new AgentError(
      'insecure_refused',
      `refusing plain HTTP to ${url.host}: use https, or --insecure-http on a trusted network`,
    );
  }
}

export async function readText(res: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      res.destroy();
      throw new AgentError('server_refused', `answer larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at a day. */
export function retryAfterSeconds(
  headers: IncomingHttpHeaders,
  now = Date.now(),
): number | undefined {
  const value = headers['retry-after'];
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const seconds = /^\d+$/.test(value.trim())
    ? Number(value.trim())
    : (Date.parse(value) - now) / 1000;
  if (!Number.isFinite(seconds)) return undefined;
  return Math.min(Math.max(0, Math.ceil(seconds)), 86_400);
}

export function httpError(
  status: number,
  headers: IncomingHttpHeaders,
  text: string,
  what: string,
): AgentError {
  let message = text.slice(0, 300);
  try {
    const body = JSON.parse(text) as { message?: unknown; code?: unknown };
    if (typeof body.message === 'string') {
      message = `${body.message}${typeof body.code === 'string' ? ` (${body.code})` : ''}`;
    }
  } catch {
    // not JSON: keep the start of the text
  }
  const transient = status === 429 || status >= 500 || status === 408;
  return new AgentError(
    transient ? 'server_unavailable' : 'server_refused',
    `${what}: HTTP ${status}${message ? `: ${message}` : ''}`,
    retryAfterSeconds(headers),
  );
}

/**
 * An https.Agent whose connections are handed to requests only after the agent's own
 * certificate check passed. Sessions are cached per host so reconnects resume (one round trip).
 */
function verifyingAgent(options: HttpClientOptions): https.Agent {
  const anchors = trustAnchors(options.caPem);
  const sessions = new Map<string, Buffer>();
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  type Callback = (err: Error | null, socket?: Socket) => void;
  const create = (connectOpts: tls.ConnectionOptions & { host?: string }, callback: Callback) => {
    const host = connectOpts.servername || connectOpts.host || 'localhost';
    const key = `${host}:${connectOpts.port}`;
    const socket: TLSSocket = tls.connect({
      ...connectOpts,
      servername: /^[\d.]+$|:/.test(host) ? undefined : host,
      session: sessions.get(key),
      // Checked below against the trusted time instead of the local clock.
      rejectUnauthorized: false,
    });
    let settled = false;
    let verified = false;
    let pendingSession: Buffer | undefined;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      verified = err === null;
      if (verified && pendingSession) sessions.set(key, pendingSession);
      if (err) {
        socket.destroy();
        callback(err);
      } else callback(null, socket);
    };
    // Only a session of a verified connection may be resumed later (resumption skips the check).
    socket.on('session', (session: Buffer) => {
      if (verified) sessions.set(key, session);
      else pendingSession = session;
    });
    socket.once('error', (err: Error) => settle(err));
    socket.once('secureConnect', () => {
      if (socket.isSessionReused()) return settle(null);
      const problem = chainProblem(
        peerChain(socket.getPeerCertificate(true)),
        host.replace(/^\[|\]$/g, ''),
        options.now(),
        anchors,
      );
      if (problem) {
        sessions.delete(key);
        return settle(new AgentError('tls_refused', `TLS: ${problem}`));
      }
      settle(null);
    });
    return undefined;
  };
  (agent as unknown as { createConnection: typeof create }).createConnection = create;
  return agent;
}
