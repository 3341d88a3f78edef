import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ENV, Env } from '../../config/env';
import { AppError } from '../../common/errors/app-error';
import { Page, PageQuery, page } from '../../common/http/pagination';
import { RegionsService } from '../regions/regions.service';
import { ChangePasswordDto, CreateUserDto, LoginView, UpdateUserDto, UserView } from './auth.dto';
import { LoginLimiter } from './login-limiter';
import { DUMMY_HASH, hashPassword, verifyPassword } from './password';
import { Principal } from './principal';
import { TokensService } from './tokens.service';
import { User } from './user.entity';
import { UsersRepository } from './users.repository';

export const toUserView = (u: User): UserView => ({
  id: u.id,
  email: u.email,
  role: u.role,
  bureauId: u.bureauId,
  regionId: u.regionId,
  disabled: u.disabled,
  createdAt: u.createdAt.toISOString(),
});

export const toPrincipal = (u: User): Principal => ({
  kind: 'user',
  id: u.id,
  email: u.email,
  role: u.role,
  bureauId: u.bureauId,
  regionId: u.regionId,
});

@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly tokens: TokensService,
    private readonly limiter: LoginLimiter,
    private readonly regions: RegionsService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  /** The first admin, from ADMIN_EMAIL/ADMIN_PASSWORD; an existing account is never overwritten. */
  async onApplicationBootstrap(): Promise<void> {
    if (await this.users.findByEmail(this.env.adminEmail)) return;
    await this.users.insertIfAbsent({
      email: this.env.adminEmail,
      passwordHash: await hashPassword(this.env.adminPassword),
      role: 'admin',
    });
    this.logger.log({ email: this.env.adminEmail }, 'created the first admin');
  }

  async login(email: string, password: string, ip: string): Promise<LoginView> {
    await this.limiter.assertAllowed(ip, email);
    const user = await this.users.findByEmail(email);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok || user.disabled) {
      await this.limiter.recordFailure(ip, email);
      throw new AppError('invalid_credentials', 'The e-mail or password is wrong');
    }
    await this.limiter.reset(ip, email);
    return {
      accessToken: await this.tokens.sign(user, 'access'),
      expiresIn: this.tokens.ttlSeconds,
      user: toUserView(user),
    };
  }

  async sessionToken(p: Principal): Promise<{ token: string; maxAge: number }> {
    const user = await this.mustFind(p.id);
    return { token: await this.tokens.sign(user, 'session'), maxAge: this.tokens.ttlSeconds };
  }

  /** The principal behind a token, or null when it is invalid, disabled or revoked. */
  async authenticate(token: string, use: 'access' | 'session'): Promise<Principal | null> {
    const claims = await this.tokens.verify(token, use);
    if (!claims) return null;
    const user = await this.users.findById(claims.userId);
    if (!user || user.disabled || user.tokenVersion !== claims.tokenVersion) return null;
    return toPrincipal(user);
  }

  /** The principal a job acts for: the user who started it, with their current role and scope. */
  async principalOf(userId: string): Promise<Principal> {
    return toPrincipal(await this.mustFind(userId));
  }

  async me(p: Principal): Promise<UserView> {
    return toUserView(await this.mustFind(p.id));
  }

  async changePassword(p: Principal, dto: ChangePasswordDto): Promise<LoginView> {
    const user = await this.mustFind(p.id);
    if (!(await verifyPassword(dto.currentPassword, user.passwordHash))) {
      throw new AppError('invalid_credentials', 'The current password is wrong');
    }
    user.passwordHash = await hashPassword(dto.newPassword);
    // Other sessions of this user end; the caller gets a fresh token to carry on.
    user.tokenVersion += 1;
    const saved = await this.users.save(user);
    return {
      accessToken: await this.tokens.sign(saved, 'access'),
      expiresIn: this.tokens.ttlSeconds,
      user: toUserView(saved),
    };
  }

  async createUser(dto: CreateUserDto): Promise<UserView> {
    if (await this.users.emailTaken(dto.email)) {
      throw new AppError('conflict', 'A user with this e-mail already exists', [
        { field: 'email', message: 'already used' },
      ]);
    }
    let regionId = dto.regionId ?? null;
    let bureauId: string | null = null;
    if (dto.role === 'bureau') {
      if (!dto.bureauId) {
        throw new AppError('validation_failed', 'A bureau user needs a bureau', [
          { field: 'bureauId', message: 'required for role bureau' },
        ]);
      }
      const bureau = await this.regions.findBureau(dto.bureauId);
      if (!bureau) {
        throw new AppError('validation_failed', 'The bureau does not exist', [
          { field: 'bureauId', message: 'no bureau has this id' },
        ]);
      }
      bureauId = bureau.id;
      regionId = bureau.regionId;
    } else if (dto.bureauId) {
      throw new AppError('validation_failed', 'Only bureau users belong to a bureau', [
        { field: 'bureauId', message: `not allowed for role ${dto.role}` },
      ]);
    }
    if (dto.role === 'viewer' && !regionId) {
      throw new AppError('validation_failed', 'A viewer needs a region to look at', [
        { field: 'regionId', message: 'required for role viewer' },
      ]);
    }
    if (regionId && !(await this.regions.findById(regionId))) {
      throw new AppError('validation_failed', 'The region does not exist', [
        { field: 'regionId', message: 'no region has this id' },
      ]);
    }
    const user = await this.users.save({
      email: dto.email,
      passwordHash: await hashPassword(dto.password),
      role: dto.role,
      bureauId,
      regionId: dto.role === 'admin' ? null : regionId,
    });
    return toUserView(user);
  }

  async listUsers(query: PageQuery): Promise<Page<UserView>> {
    const [rows, total] = await this.users.listPage(
      (query.page - 1) * query.pageSize,
      query.pageSize,
    );
    return page(rows.map(toUserView), total, query);
  }

  async updateUser(actor: Principal, id: string, dto: UpdateUserDto): Promise<UserView> {
    const user = await this.users.findById(id);
    if (!user) throw AppError.notFound('User');
    if (id === actor.id && (dto.disabled === true || (dto.role && dto.role !== 'admin'))) {
      throw new AppError('conflict', 'You cannot disable or demote yourself; ask another admin');
    }
    if (dto.role && dto.role !== user.role) {
      if (dto.role === 'bureau' && !user.bureauId) {
        throw new AppError('validation_failed', 'This user has no bureau to write for', [
          { field: 'role', message: 'create a bureau user instead' },
        ]);
      }
      if (dto.role === 'viewer' && !user.regionId) {
        throw new AppError('validation_failed', 'This user has no region to view', [
          { field: 'role', message: 'create a viewer with a region instead' },
        ]);
      }
      user.role = dto.role;
      user.tokenVersion += 1;
    }
    if (dto.disabled !== undefined && dto.disabled !== user.disabled) {
      user.disabled = dto.disabled;
      // Tokens carry the version they were issued under: bumping it revokes them all at once.
      user.tokenVersion += 1;
    }
    return toUserView(await this.users.save(user));
  }

  private async mustFind(id: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw AppError.notFound('User');
    return user;
  }
}
