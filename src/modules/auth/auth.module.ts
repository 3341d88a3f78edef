import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ENV, Env } from '../../config/env';
import { RegionsModule } from '../regions/regions.module';
import { AuthController } from './auth.controller';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { LoginLimiter } from './login-limiter';
import { TokensService } from './tokens.service';
import { User } from './user.entity';
import { UsersRepository } from './users.repository';

/** Services only: the worker role needs the first admin and principals, not the routes. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forFeature([User]),
    RegionsModule,
    JwtModule.registerAsync({
      inject: [ENV],
      useFactory: (env: Env) => ({ secret: env.jwtSecret }),
    }),
  ],
  providers: [AuthService, TokensService, LoginLimiter, UsersRepository],
  exports: [AuthService, RegionsModule],
})
export class AuthCoreModule {}

@Module({
  imports: [AuthCoreModule],
  controllers: [AuthController],
  providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
})
export class AuthModule {}
