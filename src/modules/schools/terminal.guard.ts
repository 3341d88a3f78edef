import { CanActivate, ExecutionContext, Injectable, createParamDecorator } from '@nestjs/common';
import type { Request } from 'express';
import { AppError } from '../../common/errors/app-error';
import { bearerToken } from '../auth/auth.guard';
import { TerminalPrincipal, TerminalsService } from './terminals.service';

interface TerminalRequest extends Request {
  terminal?: TerminalPrincipal;
}

/** For /sync/* routes (marked @Public() so the person guard steps aside): a terminal token. */
@Injectable()
export class TerminalGuard implements CanActivate {
  constructor(private readonly terminals: TerminalsService) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<TerminalRequest>();
    const token = bearerToken(req.headers.authorization);
    const terminal = token ? await this.terminals.authenticate(token) : null;
    if (!terminal) {
      throw new AppError(
        'unauthorized',
        'Send the terminal token from enrollment; a revoked terminal must enroll again',
      );
    }
    req.terminal = terminal;
    return true;
  }
}

export const CurrentTerminal = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  return ctx.switchToHttp().getRequest<TerminalRequest>().terminal;
});
