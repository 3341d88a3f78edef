import { JobHandlers } from './job-handlers';
import { JOB_NAMES } from './job-types';

describe('JobHandlers', () => {
  it('lists every job without a handler, so a worker cannot boot with one missing', () => {
    const handlers = new JobHandlers();
    expect(handlers.missing()).toEqual(JOB_NAMES);
    const [first, ...rest] = JOB_NAMES;
    handlers.register(first, () => Promise.resolve({}));
    expect(handlers.missing()).toEqual(rest);
    for (const name of rest) handlers.register(name, () => Promise.resolve({}));
    expect(handlers.missing()).toEqual([]);
  });

  it('refuses a second handler for the same job', () => {
    const handlers = new JobHandlers();
    handlers.register('maintenance.expire-uploads', () => Promise.resolve({}));
    expect(() =>
      handlers.register('maintenance.expire-uploads', () => Promise.resolve({})),
    ).toThrow(/two handlers/);
  });
});
