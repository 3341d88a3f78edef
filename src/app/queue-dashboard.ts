import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../common/errors/app-error';
import { toErrorBody } from '../common/errors/error.filter';
import { JobsService } from '../jobs/jobs.service';
import { SESSION_COOKIE } from '../modules/auth/auth.controller';
import { AuthService } from '../modules/auth/auth.service';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * The queue dashboard at /admin/queues, for admins with the session cookie of POST
 * /api/v1/auth/session (a browser page cannot send a Bearer header).
 */
export function mountQueueDashboard(app: NestExpressApplication): void {
  const auth = app.get(AuthService);
  const jobs = app.get(JobsService);
  const adapter = new ExpressAdapter();
  adapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: jobs.allQueues().map((q) => new BullMQAdapter(q)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'Classcast queues' } },
  });
  const guard = (req: Request, res: Response, next: NextFunction) => {
    const cookies = req.cookies as Record<string, string | undefined> | undefined;
    const token = cookies?.[SESSION_COOKIE];
    const deny = (err: AppError) => res.status(err.status).json(toErrorBody(err));
    if (!token) {
      return deny(
        new AppError(
          'unauthorized',
          'Log in, then POST /api/v1/auth/session to open the queue dashboard',
        ),
      );
    }
    auth.authenticate(token, 'session').then(
      (p) => {
        if (!p) return deny(new AppError('unauthorized', 'The session expired; open a new one'));
        if (p.role !== 'admin')
          return deny(new AppError('forbidden', 'The queue dashboard is for admins'));
        next();
      },
      (err: unknown) => next(err),
    );
  };
  app.use(
    QUEUE_DASHBOARD_PATH,
    guard,
    adapter.getRouter() as (req: Request, res: Response, next: NextFunction) => void,
  );
}
