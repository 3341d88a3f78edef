import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { ENV, Env } from '../../config/env';
import { User } from './user.entity';

export type TokenUse = 'access' | 'session';

interface Claims {
  sub: string;
  tv: number;
  use: TokenUse;
}

@Injectable()
export class TokensService {
  constructor(
    private readonly jwt: JwtService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  get ttlSeconds(): number {
    return this.env.jwtTtlSeconds;
  }

  sign(user: User, use: TokenUse): Promise<string> {
    const claims: Claims = { sub: user.id, tv: user.tokenVersion, use };
    return this.jwt.signAsync(claims, { expiresIn: this.env.jwtTtlSeconds, algorithm: 'HS256' });
  }

  /** The claims of a valid token of the given use, or null: callers answer 401 either way. */
  async verify(
    token: string,
    use: TokenUse,
  ): Promise<{ userId: string; tokenVersion: number } | null> {
    try {
      const claims = await this.jwt.verifyAsync<Claims>(token, { algorithms: ['HS256'] });
      if (claims.use !== use || typeof claims.sub !== 'string' || typeof claims.tv !== 'number') {
        return null;
      }
      return { userId: claims.sub, tokenVersion: claims.tv };
    } catch {
      return null;
    }
  }
}
