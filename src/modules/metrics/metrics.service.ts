import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { JobsService } from '../../jobs/jobs.service';

/** One registry for the process; collectors read live figures at scrape time. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly uploadedBytes: Counter<'kind'>;
  readonly renditionsFailed: Counter;
  readonly bundlesBuilt: Counter<'result'>;
  readonly blobsCorrupt: Counter;
  readonly jobDuration: Histogram<'queue' | 'job' | 'result'>;
  readonly bytesServed: Counter<'route'>;
  readonly syncRequests: Counter<'route' | 'status'>;

  constructor(jobs: JobsService) {
    collectDefaultMetrics({ register: this.registry, prefix: 'classcast_' });
    this.httpDuration = new Histogram({
      name: 'classcast_http_request_duration_seconds',
      help: 'HTTP request latency by route pattern',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.uploadedBytes = new Counter({
      name: 'classcast_uploaded_bytes_total',
      help: 'Lesson file bytes accepted into the catalog',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.renditionsFailed = new Counter({
      name: 'classcast_renditions_failed_total',
      help: 'Renditions that failed (the source ships instead)',
      registers: [this.registry],
    });
    this.bundlesBuilt = new Counter({
      name: 'classcast_bundles_built_total',
      help: 'Bundle builds by result',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.blobsCorrupt = new Counter({
      name: 'classcast_blobs_corrupt_total',
      help: 'Blobs whose bytes did not match their sha256 when read',
      registers: [this.registry],
    });
    this.jobDuration = new Histogram({
      name: 'classcast_job_duration_seconds',
      help: 'Background job run time by queue, job name and result',
      labelNames: ['queue', 'job', 'result'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600],
      registers: [this.registry],
    });
    this.bytesServed = new Counter({
      name: 'classcast_bytes_served_total',
      help: 'Response bytes written (headers and body) by route pattern: downloads and sync',
      labelNames: ['route'],
      registers: [this.registry],
    });
    this.syncRequests = new Counter({
      name: 'classcast_sync_requests_total',
      help: 'Terminal sync requests (/api/v1/sync/*) by route pattern and status',
      labelNames: ['route', 'status'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'classcast_queue_jobs',
      help: 'Jobs per queue and state',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        for (const queue of jobs.allQueues()) {
          const counts = await queue.getJobCounts(
            'waiting',
            'active',
            'delayed',
            'failed',
            'completed',
            'prioritized',
          );
          for (const [state, count] of Object.entries(counts)) {
            this.set({ queue: queue.name, state }, count);
          }
        }
      },
    });
  }
}
