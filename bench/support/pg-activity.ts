import type { Client } from 'pg';
import { sleep } from './server';

export interface ActivityShare {
  /** The statement's first words, whitespace collapsed, and what it was waiting on (or CPU). */
  statement: string;
  wait: string;
  samples: number;
  share: number;
}

export interface ActivityProfile {
  samples: number;
  /** Share of samples in which no connection of the server was running a statement. */
  noStatementShare: number;
  top: ActivityShare[];
}

/**
 * A sampling profiler for the database side: every `intervalMs` it reads what the server's
 * connections are running (pg_stat_activity) and counts statement shapes. Shares add up to more
 * than 1 when several connections are busy at once (the worker runs jobs concurrently).
 * Samples with no statement running are time spent in Node, Redis or the network.
 */
export class PgActivitySampler {
  private running = false;
  private loop: Promise<void> | null = null;
  private samples = 0;
  private quiet = 0;
  private readonly counts = new Map<string, { statement: string; wait: string; n: number }>();

  constructor(
    private readonly db: Client,
    private readonly database: string,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    if (this.intervalMs <= 0) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(top = 8): Promise<ActivityProfile> {
    this.running = false;
    await this.loop;
    const list = [...this.counts.values()]
      .sort((a, b) => b.n - a.n)
      .slice(0, top)
      .map((c) => ({
        statement: c.statement,
        wait: c.wait,
        samples: c.n,
        share: this.samples ? Math.round((c.n / this.samples) * 1000) / 1000 : 0,
      }));
    return {
      samples: this.samples,
      noStatementShare: this.samples ? Math.round((this.quiet / this.samples) * 1000) / 1000 : 0,
      top: list,
    };
  }

  private async run(): Promise<void> {
    while (this.running) {
      const { rows } = await this.db.query<{ query: string; wait: string; state: string }>(
        `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query, state,
                coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait
         FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
           AND state NOT IN ('idle')`,
        [this.database],
      );
      this.samples++;
      const active = rows.filter((r) => r.state === 'active');
      if (active.length === 0) this.quiet++;
      for (const r of rows) {
        const statement = r.state === 'active' ? r.query.trim() : `(${r.state}) ${r.query.trim()}`;
        const wait = r.state === 'active' ? r.wait : 'Client:in transaction';
        const key = `${statement}|${wait}`;
        const entry = this.counts.get(key) ?? { statement, wait, n: 0 };
        entry.n++;
        this.counts.set(key, entry);
      }
      await sleep(this.intervalMs);
    }
  }
}

export function printActivity(profiles: Record<string, ActivityProfile>, sampleMs: number): void {
  console.log(
    `\nWhat the server's database connections were running (pg_stat_activity every ${sampleMs} ms):`,
  );
  for (const [name, profile] of Object.entries(profiles)) {
    console.log(
      `\n  [${name}] ${profile.samples} samples, no statement running in ${Math.round(profile.noStatementShare * 100)}%`,
    );
    for (const t of profile.top) {
      const share = String(Math.round(t.share * 100)).padStart(3);
      console.log(`    ${share}%  ${t.wait.padEnd(24)} ${t.statement}`);
    }
  }
}
