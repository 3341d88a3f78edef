import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Repository } from 'typeorm';
import { JobRecord, JobState } from './job-record.entity';

@Injectable()
export class JobsRepository {
  constructor(@InjectRepository(JobRecord) private readonly repo: Repository<JobRecord>) {}

  /** A job id derived from its inputs may be enqueued twice; the first record stands. */
  async insertIfAbsent(record: Pick<JobRecord, 'id' | 'queue' | 'name' | 'userId'>): Promise<void> {
    await this.repo
      .createQueryBuilder()
      .insert()
      .into(JobRecord)
      .values({ ...record, state: 'waiting', progress: 0 })
      .orIgnore()
      .execute();
  }

  findById(id: string): Promise<JobRecord | null> {
    return this.repo.findOneBy({ id });
  }

  /**
   * Only jobs enqueued with a record are tracked; internal fan-out jobs have none. Says whether
   * the job has a record, so the processor leaves job_record alone for the others.
   */
  async markActive(id: string, attempt: number): Promise<boolean> {
    const res = await this.repo.update({ id }, { state: 'active', attempts: attempt, error: null });
    return (res.affected ?? 0) > 0;
  }

  async setProgress(id: string, progress: number): Promise<void> {
    await this.repo.update({ id }, { progress });
  }

  async finish(id: string, state: JobState, result: unknown, error: string | null): Promise<void> {
    const finished = state === 'completed' || state === 'failed';
    await this.repo.update(
      { id },
      {
        state,
        error,
        result: (result === undefined ? null : result) as never,
        progress: state === 'completed' ? 100 : undefined,
        finishedAt: finished ? new Date() : null,
      },
    );
  }

  async deleteFinishedBefore(cutoff: Date): Promise<number> {
    const res = await this.repo.delete({ finishedAt: LessThan(cutoff) });
    return res.affected ?? 0;
  }
}
