import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { User } from './user.entity';

@Injectable()
export class UsersRepository {
  constructor(@InjectRepository(User) private readonly repo: Repository<User>) {}

  findById(id: string): Promise<User | null> {
    return this.repo.findOneBy({ id });
  }

  findByEmail(email: string): Promise<User | null> {
    return this.repo
      .createQueryBuilder('u')
      .where('lower(u.email) = lower(:email)', { email })
      .getOne();
  }

  async emailTaken(email: string): Promise<boolean> {
    return (await this.findByEmail(email)) !== null;
  }

  save(user: Partial<User>): Promise<User> {
    return this.repo.save(this.repo.create(user));
  }

  /** Inserts the first admin only when that e-mail is absent, so replicas booting together agree. */
  async insertIfAbsent(user: Partial<User>): Promise<void> {
    await this.repo.createQueryBuilder().insert().into(User).values(user).orIgnore().execute();
  }

  async listPage(offset: number, limit: number): Promise<[User[], number]> {
    return this.repo.findAndCount({ order: { createdAt: 'ASC' }, skip: offset, take: limit });
  }
}
