import 'reflect-metadata';
import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app/app.module';
import { configureHttp } from './app/http';
import { EnvError, loadEnv } from './config/env';

async function main(): Promise<void> {
  let env;
  try {
    env = loadEnv();
  } catch (err) {
    if (err instanceof EnvError) {
      console.error(`${err.message}\nSee .env.example for every variable and its default.`);
      process.exit(78);
    }
    throw err;
  }

  const module = AppModule.forRole(env);
  const forceExit = () => {
    // A job or request that will not let go must not keep a stopping replica alive forever.
    setTimeout(() => process.exit(1), env.shutdownTimeoutSeconds * 1000).unref();
  };
  process.once('SIGTERM', forceExit);
  process.once('SIGINT', forceExit);

  if (env.role === 'worker' || env.role === 'broadcast') {
    const app = await NestFactory.createApplicationContext(module, { bufferLogs: true });
    app.useLogger(app.get(Logger));
    app.enableShutdownHooks();
    new NestLogger('Classcast').log(`worker started (role ${env.role})`);
    return;
  }
  const app = await NestFactory.create<NestExpressApplication>(module, {
    bufferLogs: true,
    bodyParser: false,
  });
  configureHttp(app, env);
  await app.listen(env.port, env.host);
  new NestLogger('Classcast').log(`listening on ${env.host}:${env.port} (role ${env.role})`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
