import { Job, Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { REDIS_TEST_URL } from '../../test/support/pg';
import { QUEUE_NAMES, QueueName } from './job-types';
import { JobsRepository } from './jobs.repository';
import { JobsService } from './jobs.service';

/**
 * Jobs that re-derive their work from PostgreSQL coalesce by key. These run against a real Redis:
 * the point is what BullMQ does when a request meets a waiting, running or failed job of the key.
 */
describe('JobsService.enqueueMany: coalescing by key', () => {
  const prefix = `classcast_test_coalesce_${randomBytes(4).toString('hex')}`;
  const connection = { url: REDIS_TEST_URL };
  let queues: Record<QueueName, Queue>;
  let jobs: JobsService;
  let worker: Worker | undefined;

  beforeAll(() => {
    queues = Object.fromEntries(
      QUEUE_NAMES.map((name) => [name, new Queue(name, { connection, prefix })]),
    ) as Record<QueueName, Queue>;
    jobs = new JobsService(
      queues.maintenance,
      queues.schools,
      queues.assignments,
      queues.media,
      queues.packaging,
      queues.delivery,
      // enqueueMany keeps no job records.
      undefined as unknown as JobsRepository,
    );
  });

  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    await queues.packaging.obliterate({ force: true });
  });

  afterAll(async () => {
    await Promise.all(Object.values(queues).map((q) => q.close()));
    const redis = new Redis(REDIS_TEST_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  const plan = (schoolId: string) =>
    jobs.enqueueMany('packaging.plan', [{ payload: { schoolId }, key: 'plan-school-1' }]);

  /** A worker whose handler is given by the test; `done` lists each finished run's school id. */
  const startWorker = (handler: (job: Job<{ schoolId: string }>) => Promise<void> | void) => {
    const done: string[] = [];
    worker = new Worker<{ schoolId: string }>(
      'packaging',
      async (job) => {
        await handler(job);
        done.push(job.data.schoolId);
      },
      { connection, prefix },
    );
    return done;
  };

  const until = async (what: string, ok: () => boolean) => {
    for (const end = Date.now() + 20_000; Date.now() < end;) {
      if (ok()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  it('a request while one is waiting is absorbed by it', async () => {
    await plan('first');
    await plan('second');
    expect(await queues.packaging.getJobCounts('waiting')).toEqual({ waiting: 1 });
    const done = startWorker(() => undefined);
    await until('the run', () => done.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toEqual(['first']);
  });

  it('a request while one is running queues one more run after it, with the latest payload', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const done = startWorker(async () => {
      started += 1;
      if (started === 1) await gate;
    });
    await plan('during-1');
    await until('the first run to start', () => started === 1);
    // Committed while the first run reads its inputs: it must not be lost.
    await plan('during-2');
    await plan('during-3');
    release();
    await until('the second run', () => done.length === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toEqual(['during-1', 'during-3']);
  });

  it('a failed job does not block the next request for its key', async () => {
    let calls = 0;
    const done = startWorker((job) => {
      calls += 1;
      if (job.data.schoolId === 'fails') throw new Error('planning failed');
    });
    await plan('fails');
    await until('the failure', () => calls === 1);
    for (const end = Date.now() + 20_000; Date.now() < end;) {
      if ((await queues.packaging.getJobCounts('failed')).failed === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await plan('after');
    await until('the next run', () => done.length === 1);
    expect(done).toEqual(['after']);
  });
});
