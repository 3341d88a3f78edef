import { Injectable } from '@nestjs/common';
import { JOB_NAMES, JobHandler, JobName } from './job-types';

/** Feature modules register the handler of each of their jobs here at init. */
@Injectable()
export class JobHandlers {
  private readonly handlers = new Map<JobName, JobHandler<JobName>>();

  register<N extends JobName>(name: N, handler: JobHandler<N>): void {
    if (this.handlers.has(name)) throw new Error(`job ${name} has two handlers`);
    this.handlers.set(name, handler as unknown as JobHandler<JobName>);
  }

  get(name: string): JobHandler<JobName> | undefined {
    return this.handlers.get(name as JobName);
  }

  /** Names of jobs nobody handles; the worker role refuses to start while this is not empty. */
  missing(): JobName[] {
    return JOB_NAMES.filter((name) => !this.handlers.has(name));
  }
}
