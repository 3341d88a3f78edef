import { Global, Module } from '@nestjs/common';
import { ENV, Env, loadEnv } from './env';

@Global()
@Module({})
export class ConfigModule {
  static forRoot(env: Env = loadEnv()) {
    return {
      module: ConfigModule,
      providers: [{ provide: ENV, useValue: env }],
      exports: [ENV],
    };
  }
}
