import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/**
 * Latency per route pattern (never the raw URL, which would explode the label set). Mounted on
 * the HTTP server itself, so root routes (health, docs) are measured like the API.
 */
export function httpMetrics(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const end = metrics.httpDuration.startTimer();
    // Sockets carry one request at a time, so the difference is this response's bytes.
    const written = req.socket.bytesWritten;
    const pattern = () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      return route ? `${req.baseUrl}${route}` : req.baseUrl || 'unmatched';
    };
    res.once('finish', () => {
      const status = String(res.statusCode);
      end({ method: req.method, route: pattern(), status });
      if (req.originalUrl.startsWith('/api/v1/sync/')) {
        metrics.syncRequests.inc({ route: pattern(), status });
      }
    });
    // close also follows a download the client abandoned: its bytes were still sent.
    res.once('close', () => {
      const bytes = req.socket.bytesWritten - written;
      if (bytes > 0) metrics.bytesServed.inc({ route: pattern() }, bytes);
    });
    next();
  };
}
