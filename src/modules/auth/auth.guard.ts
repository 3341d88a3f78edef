import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppError } from '../../common/errors/app-error';
import { AuthService } from './auth.service';
import { AuthedRequest, PUBLIC_KEY, ROLES_KEY } from './decorators';
import { UserRole } from './user.entity';

export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? match[1] : null;
}

/** Global guard: every route needs a valid person token unless marked @Public(). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      throw new AppError(
        'unauthorized',
        'Send a token: Authorization: Bearer <token> (from POST /api/v1/auth/login)',
      );
    }
    const principal = await this.auth.authenticate(token, 'access');
    if (!principal) {
      throw new AppError('unauthorized', 'The token is invalid, expired or revoked; log in again');
    }
    req.principal = principal;
    const roles = this.reflector.getAllAndOverride<UserRole[] | undefined>(ROLES_KEY, targets);
    if (roles && principal.role !== 'admin' && !roles.includes(principal.role)) {
      throw new AppError('forbidden', `This needs the role ${roles.join(' or ')}`);
    }
    return true;
  }
}
