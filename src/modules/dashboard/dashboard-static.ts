import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { NextFunction, Request, Response } from 'express';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

/**
 * The page itself may run only the bundled scripts and styles it was built with: no inline script,
 * no other origin, so a name that smuggles markup in can never run.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Where `vite build` put the dashboard: dist/web beside the compiled server (dist/src/...), or
 * under dist/ of the checkout when the server runs from TypeScript sources (tests).
 */
export function dashboardDir(): string | null {
  const root = resolve(__dirname, '..', '..', '..');
  // Compiled: dist/src/modules/dashboard -> dist/web; from sources: <checkout>/dist/web (never
  // web/ itself, whose index.html is Vite's unbuilt entry).
  const dir = basename(root) === 'dist' ? join(root, 'web') : join(root, 'dist', 'web');
  return existsSync(join(dir, 'index.html')) ? dir : null;
}

/** GET / and /assets/*: the dashboard, at the server root outside /api/v1. */
export function mountDashboard(app: NestExpressApplication): void {
  const dir = dashboardDir();
  const strictCsp = (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    next();
  };
  app.use(
    '/assets',
    strictCsp,
    dir
      ? express.static(join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false })
      : (_req: Request, res: Response) => notBuilt(res),
    (req: Request, res: Response) =>
      res.status(404).json({
        statusCode: 404,
        error: 'Not Found',
        code: 'route_not_found',
        message: `No dashboard asset ${req.originalUrl.split('?')[0]}`,
        details: [],
      }),
  );
  const page = (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (!dir) return notBuilt(res);
    res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    // The page names its hashed assets, so it must be revalidated to pick up a new build.
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(dir, 'index.html'));
  };
  app.use((req: Request, res: Response, next: NextFunction) =>
    req.path === '/' || req.path === '/index.html' ? page(req, res, next) : next(),
  );
  if (dir) {
    const favicon = join(dir, 'favicon.svg');
    app.use('/favicon.svg', (_req: Request, res: Response) => res.sendFile(favicon));
  }
}

function notBuilt(res: Response): void {
  res.status(503).json({
    statusCode: 503,
    error: 'Service Unavailable',
    code: 'dashboard_not_built',
    message: 'The dashboard is not built: run npm run build (it builds the server and web/)',
    details: [],
  });
}
