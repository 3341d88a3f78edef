#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { AgentError } from './errors';
import { dirOf, enroll, importUsb, num, str, sync, verify, type Flags } from './commands';
import { Library } from './library';
import { receive } from './receive';
import { createLogger } from './log';
import { startLibraryServer } from './serve';
import { launchNewest } from './update';
import { AGENT_VERSION } from './version';

const USAGE = `classcast-agent ${AGENT_VERSION}: the Classcast school terminal agent

usage: classcast-agent <command> [options]     (every command takes --dir DIR, default $CLASSCAST_AGENT_DIR or /var/lib/classcast-agent)
  enroll --server URL --code CODE [--name NAME] [--ca CERT.pem] [--insecure-http]
  sync [--loop] [--connections N] [--max-kbps KBPS] [--window HH:MM-HH:MM ...] [--attempts N]
  verify                     re-hash the library, repair damaged files from the server
  serve [--port 8080] [--host 0.0.0.0]   the offline classroom library on the LAN
  import-usb PATH            install a bundle .tar carried by hand (PATH.minisig checked when present)
  receive --port P [--group G] [--timeout S] [--idle S] [--tsi N] [--backoff-max-ms MS]
                             install from the broadcast carousel, repair the rest by unicast
  version | selftest`;

const BOOLEAN = new Set(['loop', 'insecure-http', 'help']);
const REPEATABLE = new Set(['window']);

export function parseArgs(argv: string[]): {
  command?: string;
  positional: string[];
  flags: Flags;
} {
  const flags: Flags = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    let value: string | boolean;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (BOOLEAN.has(name)) value = true;
    else {
      value = argv[i + 1];
      i += 1;
      if (value === undefined) throw new AgentError('usage', `--${name} needs a value`);
    }
    if (REPEATABLE.has(name) && typeof value === 'string') {
      const prev = flags[name];
      flags[name] = [...(Array.isArray(prev) ? prev : []), value];
    } else flags[name] = value;
  }
  return { command: positional.shift(), positional, flags };
}

async function main(argv: string[]): Promise<number> {
  const log = createLogger();
  const { command, positional, flags } = parseArgs(argv);
  if (command === 'version') {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return 0;
  }
  if (command === 'selftest') return 0;
  if (!command || flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  // A newer release installed by sync runs instead of this one when it passes its self-test.
  const delegated = await launchNewest(dirOf(flags).root, argv, log);
  if (delegated !== undefined) return delegated;
  switch (command) {
    case 'enroll':
      await enroll(flags, log);
      return 0;
    case 'sync': {
      const code = await sync(flags, log);
      if (code === 75) {
        // Restart into the release just installed (the launcher picks it, or falls back).
        const again = spawnSync(process.execPath, [process.argv[1], ...argv], { stdio: 'inherit' });
        return again.status ?? 1;
      }
      return code;
    }
    case 'verify':
      return verify(flags, log);
    case 'receive':
      return receive(flags, log);
    case 'import-usb':
      return importUsb(flags, positional[0], log);
    case 'serve': {
      const paths = dirOf(flags);
      const port = num(flags, 'port', 0, 65535) ?? 8080;
      const host = str(flags, 'host') ?? '0.0.0.0';
      const server = await startLibraryServer(new Library(paths.library, log), port, host, log);
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      log.info({ port: actual, host }, 'classroom library serving');
      process.stdout.write(`classroom library at http://${host}:${actual}/\n`);
      await new Promise<void>((resolve) => {
        const stop = () => server.close(() => resolve());
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      return 0;
    }
    default:
      throw new AgentError('usage', `unknown command "${command}"\n${USAGE}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof AgentError) {
        process.stderr.write(`classcast-agent: ${err.message}\n`);
        process.exit(err.exitCode);
      }
      process.stderr.write(`classcast-agent: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
