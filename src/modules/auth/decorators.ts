import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';
import { Principal } from './principal';
import { UserRole } from './user.entity';

export const PUBLIC_KEY = 'classcast:public';
export const ROLES_KEY = 'classcast:roles';

/** No token needed (login, health, enrollment). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
/** Only these roles (admin always passes). */
export const Roles = (...roles: UserRole[]) => SetMetadata(ROLES_KEY, roles);

export interface AuthedRequest extends Request {
  principal?: Principal;
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const req = ctx.switchToHttp().getRequest<AuthedRequest>();
  return req.principal;
});
