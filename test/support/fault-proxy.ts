import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A fault-injecting HTTP proxy on loopback between an agent and a server. Faults apply to
 * response bodies and are positioned by the cumulative count of body bytes the proxy has passed
 * to clients (`bodyBytes`), so a test can say "cut at byte 3,000,000 of the download":
 * - cuts: the client connection is destroyed once that many bytes went through;
 * - flips: that byte is XORed with 0xff;
 * - stalls: the stream pauses for `ms` at that offset;
 * - failNext: the next N requests matching `failPath` are answered with a status (500);
 * - hangNext: the next N matching requests are never answered (the client must time out);
 * - latencyMs: added before a request is forwarded and before each response chunk (one way);
 * - rateBytesPerSecond: a cap on the body bytes going to clients, shared by all connections.
 * Only body bytes count: headers pass untouched, so the HTTP framing itself stays valid until a cut.
 */
export interface FaultPlan {
  cuts?: number[];
  flips?: number[];
  stalls?: { at: number; ms: number }[];
  failNext?: number;
  failStatus?: number;
  failPath?: RegExp;
  hangNext?: number;
  latencyMs?: number;
  rateBytesPerSecond?: number;
  /** Only bodies of requests whose path matches are subject to cuts, flips and stalls. */
  bodyPath?: RegExp;
}

export interface ProxyLogEntry {
  method: string;
  path: string;
  range?: string;
  status?: number;
  bytes: number;
  cut: boolean;
}

/** mulberry32: seeded, so a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` distinct sorted offsets in [from, to). */
export function randomOffsets(count: number, from: number, to: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  const set = new Set<number>();
  while (set.size < count) set.add(from + Math.floor(rnd() * (to - from)));
  return [...set].sort((a, b) => a - b);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FaultProxy {
  url = '';
  bodyBytes = 0;
  /** Body bytes that crossed while the link was up (bench: goodput denominator helper). */
  log: ProxyLogEntry[] = [];
  cutsDone = 0;
  flipsDone = 0;
  stallMs = 0;
  private server?: Server;
  private sockets = new Set<Socket>();
  private nextSlot = 0;

  constructor(
    private readonly target: string,
    public plan: FaultPlan = {},
  ) {}

  static async start(target: string, plan: FaultPlan = {}): Promise<FaultProxy> {
    const p = new FaultProxy(target, plan);
    p.server = http.createServer((req, res) => {
      p.forward(req, res).catch(() => res.destroy());
    });
    p.server.on('connection', (s: Socket) => {
      p.sockets.add(s);
      s.on('close', () => p.sockets.delete(s));
    });
    await new Promise<void>((r) => p.server?.listen(0, '127.0.0.1', r));
    p.url = `http://127.0.0.1:${(p.server.address() as AddressInfo).port}`;
    return p;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const plan = this.plan;
    const path = req.url ?? '/';
    const entry: ProxyLogEntry = {
      method: req.method ?? 'GET',
      path,
      range: req.headers.range,
      bytes: 0,
      cut: false,
    };
    this.log.push(entry);
    const matchesFail = !plan.failPath || plan.failPath.test(path);
    if ((plan.hangNext ?? 0) > 0 && matchesFail) {
      plan.hangNext = (plan.hangNext ?? 0) - 1;
      return; // never answered
    }
    if ((plan.failNext ?? 0) > 0 && matchesFail) {
      plan.failNext = (plan.failNext ?? 0) - 1;
      entry.status = plan.failStatus ?? 500;
      res.writeHead(entry.status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          statusCode: entry.status,
          code: 'internal_error',
          message: 'injected failure',
        }),
      );
      return;
    }
    if (plan.latencyMs) await sleep(plan.latencyMs);
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
      const headers = { ...req.headers };
      delete headers.host;
      const u = http.request(new URL(path, this.target), { method: req.method, headers }, resolve);
      u.on('error', reject);
      u.end(Buffer.concat(chunks));
    });
    entry.status = upstream.statusCode;
    if (plan.latencyMs) await sleep(plan.latencyMs);
    res.writeHead(upstream.statusCode ?? 502, upstream.headers);
    const faulty = !plan.bodyPath || plan.bodyPath.test(path);
    try {
      for await (const raw of upstream as AsyncIterable<Buffer>) {
        let chunk = raw;
        while (chunk.length > 0) {
          // Split the chunk at the next fault offset, so each fault lands on its exact byte.
          const next = faulty ? this.nextFaultOffset() : Infinity;
          const take = Math.min(chunk.length, Math.max(1, next - this.bodyBytes));
          let piece = chunk.subarray(0, take);
          chunk = chunk.subarray(take);
          if (faulty && this.consume(plan.cuts, this.bodyBytes)) {
            this.cutsDone += 1;
            entry.cut = true;
            upstream.destroy();
            res.socket?.destroy();
            return;
          }
          if (faulty) {
            const stall = plan.stalls?.find((s) => s.at === this.bodyBytes);
            if (stall) {
              // The link is down for everyone: other connections wait too.
              plan.stalls = plan.stalls?.filter((s) => s !== stall);
              this.stallMs += stall.ms;
              this.nextSlot = Math.max(this.nextSlot, Date.now()) + stall.ms;
              await sleep(stall.ms);
            }
            if (this.consume(plan.flips, this.bodyBytes)) {
              piece = Buffer.from(piece);
              piece[0] ^= 0xff;
              this.flipsDone += 1;
            }
          }
          await this.pace(piece.length);
          this.bodyBytes += piece.length;
          entry.bytes += piece.length;
          if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
        }
      }
      res.end();
    } catch {
      res.destroy();
    }
  }

  private nextFaultOffset(): number {
    const all = [
      ...(this.plan.cuts ?? []),
      ...(this.plan.flips ?? []),
      ...(this.plan.stalls ?? []).map((s) => s.at),
    ].filter((o) => o >= this.bodyBytes);
    const after = all.filter((o) => o > this.bodyBytes);
    return after.length ? Math.min(...after) : Infinity;
  }

  /** True (and removes it) when `offset` is in the list. */
  private consume(list: number[] | undefined, offset: number): boolean {
    if (!list) return false;
    const i = list.indexOf(offset);
    if (i < 0) return false;
    list.splice(i, 1);
    return true;
  }

  /** Serialises body bytes of all connections through one link of the configured rate. */
  private async pace(bytes: number): Promise<void> {
    const rate = this.plan.rateBytesPerSecond;
    if (!rate) return;
    const now = Date.now();
    const start = Math.max(now, this.nextSlot);
    this.nextSlot = start + (bytes / rate) * 1000;
    const wait = this.nextSlot - now;
    if (wait > 1) await sleep(wait);
  }
}
