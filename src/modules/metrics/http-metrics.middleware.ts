import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/**
 * Latency per route pattern (never the raw URL, which would explode the label set). Mounted on
 * the HTTP server itself, so root routes (health, docs) are measured like the API.
 */
export function httpMetrics(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const end = metrics.httpDuration.startTimer();
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      const pattern = route ? `${req.baseUrl}${route}` : req.baseUrl || 'unmatched';
      end({ method: req.method, route: pattern, status: String(res.statusCode) });
    });
    next();
  };
}
