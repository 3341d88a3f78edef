import { Global, Module } from '@nestjs/common';
import { KeysController } from './keys.controller';
import { SigningService } from './signing.service';

@Global()
@Module({ providers: [SigningService], exports: [SigningService] })
export class SigningCoreModule {}

@Module({ controllers: [KeysController] })
export class SigningApiModule {}
