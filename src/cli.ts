#!/usr/bin/env node
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { CoreModule } from './app/core.module';
import { EnvError, loadEnv } from './config/env';
import { SigningService } from './modules/signing/signing.service';

const USAGE = `usage: classcast <command>
  rotate-signing-key   make a new signing key, signed by the current one (terminals follow it)`;

/** Operator commands, run against the same configuration as the server. */
async function main(): Promise<void> {
  const command = process.argv[2];
  if (command !== 'rotate-signing-key') {
    console.error(USAGE);
    process.exit(2);
  }
  const env = loadEnv();
  const app = await NestFactory.createApplicationContext(
    CoreModule.forRoot({ ...env, role: 'broadcast' }),
    {
      logger: ['error', 'warn'],
    },
  );
  try {
    await app.init();
    const rotated = await app.get(SigningService).rotate();
    console.log(`signing key ${rotated.keyId} is now current (signed by ${rotated.signedBy})`);
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof EnvError ? err.message : err instanceof Error ? err.message : err);
  process.exit(1);
});
