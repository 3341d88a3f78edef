import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Repository } from 'typeorm';
import { Upload } from './catalog.entities';

@Injectable()
export class UploadsRepository {
  constructor(@InjectRepository(Upload) private readonly repo: Repository<Upload>) {}

  insert(upload: Omit<Upload, 'createdAt' | 'updatedAt' | 'state'>): Promise<unknown> {
    return this.repo.insert(upload);
  }

  findById(id: string): Promise<Upload | null> {
    return this.repo.findOneBy({ id });
  }

  /** Activity keeps an upload alive; only idle ones expire. */
  async touch(id: string): Promise<void> {
    await this.repo.update({ id }, { updatedAt: new Date() });
  }

  async delete(id: string): Promise<void> {
    await this.repo.delete({ id });
  }

  idleSince(cutoff: Date, limit: number): Promise<Upload[]> {
    return this.repo.find({ where: { updatedAt: LessThan(cutoff) }, take: limit });
  }
}
