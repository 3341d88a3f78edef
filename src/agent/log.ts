import pino, { type Logger } from 'pino';

export type AgentLogger = Logger;

/**
 * Structured JSON lines on stderr (stdout stays free for command output). Tokens are never
 * logged: the redact list catches them should an object carrying one slip in.
 */
export function createLogger(level = process.env.CLASSCAST_AGENT_LOG_LEVEL ?? 'info'): AgentLogger {
  return pino(
    {
      level,
      base: { app: 'classcast-agent' },
      redact: ['token', '*.token', 'headers.authorization', '*.headers.authorization'],
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
