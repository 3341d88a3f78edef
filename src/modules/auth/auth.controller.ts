import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { IdPipe } from '../../common/http/id.pipe';
import { Page, PageQuery } from '../../common/http/pagination';
import {
  ChangePasswordDto,
  CreateUserDto,
  LoginDto,
  LoginView,
  UpdateUserDto,
  UserView,
} from './auth.dto';
import { AuthService } from './auth.service';
import { CurrentPrincipal, Public, Roles } from './decorators';
import { Principal } from './principal';

export const SESSION_COOKIE = 'classcast_session';

@ApiTags('auth')
@Controller()
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('auth/login')
  @Public()
  @HttpCode(200)
  login(@Body() dto: LoginDto, @Req() req: Request): Promise<LoginView> {
    return this.auth.login(dto.email, dto.password, req.ip ?? 'unknown');
  }

  @Get('auth/me')
  @ApiBearerAuth()
  me(@CurrentPrincipal() p: Principal): Promise<UserView> {
    return this.auth.me(p);
  }

  @Post('auth/password')
  @ApiBearerAuth()
  @HttpCode(200)
  changePassword(
    @CurrentPrincipal() p: Principal,
    @Body() dto: ChangePasswordDto,
  ): Promise<LoginView> {
    return this.auth.changePassword(p, dto);
  }

  /** A cookie for browser-only pages (the queue dashboard); API routes never accept it. */
  @Post('auth/session')
  @ApiBearerAuth()
  @HttpCode(204)
  async session(
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    const { token, maxAge } = await this.auth.sessionToken(p);
    res.cookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      path: '/admin',
      maxAge: maxAge * 1000,
    });
  }

  @Post('users')
  @ApiBearerAuth()
  @Roles('admin')
  createUser(@Body() dto: CreateUserDto): Promise<UserView> {
    return this.auth.createUser(dto);
  }

  @Get('users')
  @ApiBearerAuth()
  @Roles('admin')
  listUsers(@Query() query: PageQuery): Promise<Page<UserView>> {
    return this.auth.listUsers(query);
  }

  @Patch('users/:id')
  @ApiBearerAuth()
  @Roles('admin')
  updateUser(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdPipe) id: string,
    @Body() dto: UpdateUserDto,
  ): Promise<UserView> {
    return this.auth.updateUser(p, id, dto);
  }
}
